/*
 * Stripe.js v3 stand-in, served by the local `stripe-standin` server at /v3/.
 *
 * It implements the part of the Stripe.js API the shop uses (Stripe(), elements()
 * with a client secret or without an intent (mode, amount, currency), the Payment
 * Element, elements.submit(), confirmPayment, retrievePaymentIntent, handleNextAction)
 * against the stand-in's HTTP API, which lives at the origin this script was
 * loaded from. The Payment Element is plain DOM (no iframe) so browser tests can
 * reach its inputs by their labels.
 *
 * Only the publishable key and PaymentIntent client secrets ever go over the wire
 * as credentials; the card fields go to the stand-in's /v1/payment_methods, as
 * Stripe.js sends them to Stripe. Nothing is logged.
 *
 * Plain ES2017, no build step, no dependencies.
 */
(function () {
  'use strict';

  if (typeof window === 'undefined') return;
  if (window.Stripe && window.Stripe.__standin) return; // loaded twice: keep the first copy

  // ---------------------------------------------------------------------------
  // Where the API lives: the origin of this script's own URL.
  // ---------------------------------------------------------------------------
  var API_BASE = (function () {
    var src = '';
    try {
      if (document.currentScript && document.currentScript.src) {
        src = document.currentScript.src;
      } else {
        var tags = document.querySelectorAll('script[src*="/v3"]');
        if (tags.length) src = tags[tags.length - 1].src;
      }
      if (src) return new URL(src, window.location.href).origin;
    } catch (e) { /* fall through */ }
    return window.location.origin;
  })();

  var PREFIX = '__standin';
  var uid = 0;
  function nextId(what) {
    uid += 1;
    return PREFIX + '-' + what + '-' + uid;
  }

  // ---------------------------------------------------------------------------
  // Errors
  // ---------------------------------------------------------------------------
  class IntegrationError extends Error {
    constructor(message) {
      super(message);
      this.name = 'IntegrationError';
      this.type = 'integration_error';
    }
  }

  function connectionError() {
    return {
      type: 'api_connection_error',
      message: 'We could not reach the payment server. Check your network connection and try again.',
    };
  }

  // ---------------------------------------------------------------------------
  // Form encoding, Stripe style: nested keys as a[b][c], brackets left literal.
  // ---------------------------------------------------------------------------
  function flatten(value, prefix, out) {
    if (value === undefined || value === null) return out;
    if (Array.isArray(value)) {
      value.forEach(function (item, i) { flatten(item, prefix + '[' + i + ']', out); });
    } else if (typeof value === 'object') {
      Object.keys(value).forEach(function (k) {
        flatten(value[k], prefix ? prefix + '[' + k + ']' : k, out);
      });
    } else if (prefix) {
      out.push([prefix, String(value)]);
    }
    return out;
  }

  function encodeKey(key) {
    return encodeURIComponent(key).replace(/%5B/gi, '[').replace(/%5D/gi, ']');
  }

  function encodeForm(pairs) {
    return pairs.map(function (p) { return encodeKey(p[0]) + '=' + encodeURIComponent(p[1]); }).join('&');
  }

  // Stripe.js hands errors over with only the fields that are set.
  function withoutNulls(obj) {
    var out = {};
    Object.keys(obj).forEach(function (k) {
      if (obj[k] !== null && obj[k] !== undefined) out[k] = obj[k];
    });
    return out;
  }

  // One call to the stand-in. Resolves {data} or {error}; never rejects.
  async function apiCall(publishableKey, method, path, params) {
    var pairs = [['key', publishableKey]].concat(flatten(params || {}, '', []));
    var body = encodeForm(pairs);
    var url = API_BASE + path;
    var init = { method: method, mode: 'cors', credentials: 'omit', cache: 'no-store' };
    if (method === 'GET') {
      url += (url.indexOf('?') === -1 ? '?' : '&') + body;
    } else {
      // A "simple" CORS request: no preflight needed.
      init.headers = { 'Content-Type': 'application/x-www-form-urlencoded' };
      init.body = body;
    }
    var response;
    try {
      response = await window.fetch(url, init);
    } catch (e) {
      return { error: connectionError() };
    }
    var json = null;
    try {
      json = await response.json();
    } catch (e) {
      json = null;
    }
    if (json && typeof json === 'object' && json.error && typeof json.error === 'object') {
      var err = withoutNulls(json.error);
      if (!err.type) err.type = 'api_error';
      if (!err.message) err.message = 'The payment server reported an error (HTTP ' + response.status + ').';
      return { error: err };
    }
    if (!response.ok || !json || typeof json !== 'object') {
      return {
        error: {
          type: 'api_error',
          message: 'The payment server sent an unexpected response (HTTP ' + response.status + ').',
        },
      };
    }
    return { data: json };
  }

  // ---------------------------------------------------------------------------
  // Client secrets
  // ---------------------------------------------------------------------------
  var PI_SECRET = /^(pi_[A-Za-z0-9]+)_secret_[A-Za-z0-9]+$/;

  function intentIdFromSecret(clientSecret, method) {
    var m = typeof clientSecret === 'string' ? PI_SECRET.exec(clientSecret) : null;
    if (!m) {
      throw new IntegrationError(
        'Invalid value for ' + method + ': the client secret should look like pi_..._secret_..., ' +
        'the client_secret of a PaymentIntent. You passed: ' + describe(clientSecret) + '.'
      );
    }
    return m[1];
  }

  function describe(value) {
    if (value === undefined) return 'undefined';
    if (value === null) return 'null';
    if (typeof value === 'string') return value === '' ? 'an empty string' : '"' + value.slice(0, 16) + (value.length > 16 ? '…"' : '"');
    return typeof value;
  }

  // ---------------------------------------------------------------------------
  // Card helpers
  // ---------------------------------------------------------------------------
  var BRANDS = [
    { brand: 'amex', label: 'American Express', test: /^3[47]/, lengths: [15], groups: [4, 6, 5], cvc: 4 },
    { brand: 'diners', label: 'Diners Club', test: /^3(?:0[0-5]|[689])/, lengths: [14, 16], groups: [4, 6, 4], cvc: 3 },
    { brand: 'jcb', label: 'JCB', test: /^35/, lengths: [16], groups: [4, 4, 4, 4], cvc: 3 },
    { brand: 'discover', label: 'Discover', test: /^(?:6011|64[4-9]|65)/, lengths: [16], groups: [4, 4, 4, 4], cvc: 3 },
    { brand: 'unionpay', label: 'UnionPay', test: /^62/, lengths: [16, 17, 18, 19], groups: [4, 4, 4, 4, 3], cvc: 3 },
    { brand: 'mastercard', label: 'Mastercard', test: /^(?:5[1-5]|2(?:22[1-9]|2[3-9]\d|[3-6]\d\d|7[01]\d|720))/, lengths: [16], groups: [4, 4, 4, 4], cvc: 3 },
    { brand: 'visa', label: 'Visa', test: /^4/, lengths: [16], groups: [4, 4, 4, 4], cvc: 3 },
  ];
  var UNKNOWN_BRAND = { brand: 'unknown', label: '', test: /^/, lengths: [16], groups: [4, 4, 4, 4], cvc: 3 };

  function brandOf(digits) {
    for (var i = 0; i < BRANDS.length; i++) {
      if (BRANDS[i].test.test(digits)) return BRANDS[i];
    }
    return UNKNOWN_BRAND;
  }

  function luhnOk(digits) {
    var sum = 0;
    var double = false;
    for (var i = digits.length - 1; i >= 0; i--) {
      var d = digits.charCodeAt(i) - 48;
      if (double) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
      double = !double;
    }
    return digits.length > 0 && sum % 10 === 0;
  }

  function onlyDigits(s) {
    return String(s || '').replace(/\D/g, '');
  }

  function formatCardNumber(raw) {
    var digits = onlyDigits(raw);
    var info = brandOf(digits);
    digits = digits.slice(0, Math.max.apply(null, info.lengths));
    var parts = [];
    var at = 0;
    for (var g = 0; g < info.groups.length && at < digits.length; g++) {
      parts.push(digits.slice(at, at + info.groups[g]));
      at += info.groups[g];
    }
    if (at < digits.length) parts.push(digits.slice(at));
    return parts.join(' ');
  }

  // "MM / YY". Accepts typed digits, "12/34", "12 / 34" and "12/2034".
  function formatExpiry(raw, deleting) {
    var mm;
    var yy;
    var withSlash = /^\s*(\d{1,2})\s*[/\-.]\s*(\d*)\s*$/.exec(raw);
    if (withSlash) {
      mm = withSlash[1];
      yy = withSlash[2];
      if (mm.length === 1 && (yy.length > 0 || !deleting)) mm = '0' + mm;
      yy = yy.length === 4 ? yy.slice(2) : yy.slice(0, 2);
    } else {
      var d = onlyDigits(raw);
      if (d.length > 0 && d[0] > '1') d = '0' + d;
      else if (d.length > 1 && d[0] === '1' && d[1] > '2') d = '0' + d;
      mm = d.slice(0, 2);
      yy = d.slice(2, 4);
    }
    if (!mm) return '';
    if (mm.length === 2 && (yy.length > 0 || !deleting)) return mm + ' / ' + yy;
    return mm;
  }

  function parseExpiry(value) {
    var m = /^(\d{2}) \/ (\d{2})$/.exec(value || '');
    if (!m) return null;
    return { month: parseInt(m[1], 10), year: 2000 + parseInt(m[2], 10) };
  }

  // Field checks. Each returns null when valid, else {code, message, hard} where a
  // hard error is one worth showing while the customer is still typing.
  var MESSAGES = {
    incomplete_number: 'Your card number is incomplete.',
    invalid_number: 'Your card number is invalid.',
    incomplete_expiry: "Your card's expiration date is incomplete.",
    invalid_expiry_month: "Your card's expiration date is invalid.",
    invalid_expiry_month_past: "Your card's expiration date is in the past.",
    invalid_expiry_year_past: "Your card's expiration year is in the past.",
    invalid_expiry_year: "Your card's expiration year is invalid.",
    incomplete_cvc: "Your card's security code is incomplete.",
  };

  function fieldError(code, hard) {
    return { code: code, message: MESSAGES[code], hard: !!hard };
  }

  function checkNumber(value) {
    var digits = onlyDigits(value);
    var info = brandOf(digits);
    var min = Math.min.apply(null, info.lengths);
    var max = Math.max.apply(null, info.lengths);
    if (digits.length < min) return fieldError('incomplete_number');
    if (info.lengths.indexOf(digits.length) !== -1 && luhnOk(digits)) return null;
    if (digits.length < max) return fieldError('incomplete_number');
    return fieldError('invalid_number', true);
  }

  function checkExpiry(value) {
    var exp = parseExpiry(value);
    if (!exp) return fieldError('incomplete_expiry');
    if (exp.month < 1 || exp.month > 12) return fieldError('invalid_expiry_month', true);
    var now = new Date();
    var year = now.getFullYear();
    var month = now.getMonth() + 1;
    if (exp.year < year) return fieldError('invalid_expiry_year_past', true);
    if (exp.year === year && exp.month < month) return fieldError('invalid_expiry_month_past', true);
    if (exp.year > year + 50) return fieldError('invalid_expiry_year', true);
    return null;
  }

  function cvcLength(numberValue) {
    return brandOf(onlyDigits(numberValue)).cvc;
  }

  function checkCvc(value, numberValue) {
    return onlyDigits(value).length < cvcLength(numberValue) ? fieldError('incomplete_cvc') : null;
  }

  // ---------------------------------------------------------------------------
  // Styles (one <style> per document)
  // ---------------------------------------------------------------------------
  var CSS = [
    '.__standin-payment-element{--sp-primary:#0570de;--sp-bg:#fff;--sp-text:#30313d;--sp-text-secondary:#6d6e78;--sp-danger:#df1b41;',
    '--sp-border:#d9dce1;--sp-radius:5px;--sp-font:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;',
    'display:grid;grid-template-columns:1fr 1fr;gap:12px;font-family:var(--sp-font);color:var(--sp-text);text-align:left}',
    '.__standin-payment-element .__standin-field{display:flex;flex-direction:column;gap:4px;min-width:0}',
    '.__standin-payment-element .__standin-field--number{grid-column:1/-1;position:relative}',
    '.__standin-payment-element label{font-size:.9em;font-weight:500}',
    '.__standin-payment-element input{font:inherit;color:inherit;background:var(--sp-bg);padding:10px 12px;',
    'border:1px solid var(--sp-border);border-radius:var(--sp-radius);box-sizing:border-box;width:100%;',
    'box-shadow:0 1px 1px rgba(0,0,0,.03),0 3px 6px rgba(0,0,0,.02)}',
    '.__standin-payment-element input:focus{outline:none;border-color:var(--sp-primary);',
    'box-shadow:0 0 0 3px color-mix(in srgb,var(--sp-primary) 25%,transparent)}',
    '.__standin-payment-element input[aria-invalid="true"]{border-color:var(--sp-danger);color:var(--sp-danger)}',
    '.__standin-payment-element input[readonly]{opacity:.7}',
    '.__standin-payment-element .__standin-brand{position:absolute;right:12px;bottom:11px;font-size:.75em;',
    'font-weight:600;color:var(--sp-text-secondary);pointer-events:none}',
    '.__standin-payment-element .__standin-error{grid-column:1/-1;color:var(--sp-danger);font-size:.9em;min-height:1.2em;margin:0}',
    '.__standin-payment-element .__standin-note{grid-column:1/-1;font-size:.75em;color:var(--sp-text-secondary);margin:0}',
    '.__standin-3ds{border:none;border-radius:8px;padding:24px;max-width:380px;width:calc(100% - 48px);',
    'font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#30313d;background:#fff;',
    'box-shadow:0 10px 40px rgba(0,0,0,.3)}',
    '.__standin-3ds::backdrop{background:rgba(20,20,30,.55)}',
    '.__standin-3ds[data-fallback]{position:fixed;top:50%;left:50%;transform:translate(-50%,-50%);z-index:2147483647}',
    '.__standin-3ds-overlay{position:fixed;inset:0;background:rgba(20,20,30,.55);z-index:2147483646}',
    '.__standin-3ds h2{margin:0 0 12px;font-size:1.2em}',
    '.__standin-3ds p{margin:0 0 12px;line-height:1.4}',
    '.__standin-3ds .__standin-3ds-buttons{display:flex;gap:12px;margin-top:20px}',
    '.__standin-3ds button{flex:1;font:inherit;padding:10px;border-radius:5px;cursor:pointer;border:1px solid #0570de}',
    '.__standin-3ds button.__standin-complete{background:#0570de;color:#fff}',
    '.__standin-3ds button.__standin-fail{background:#fff;color:#0570de}',
    '.__standin-3ds button:disabled{opacity:.6;cursor:progress}',
  ].join('');

  function ensureStyles() {
    if (document.getElementById(PREFIX + '-styles')) return;
    var style = document.createElement('style');
    style.id = PREFIX + '-styles';
    style.textContent = CSS;
    (document.head || document.documentElement).appendChild(style);
  }

  function applyAppearance(container, appearance) {
    var vars = (appearance && appearance.variables) || {};
    var map = {
      colorPrimary: '--sp-primary',
      colorBackground: '--sp-bg',
      colorText: '--sp-text',
      colorTextSecondary: '--sp-text-secondary',
      colorDanger: '--sp-danger',
      borderRadius: '--sp-radius',
      fontFamily: '--sp-font',
    };
    if (appearance && appearance.theme === 'night') {
      container.style.setProperty('--sp-bg', '#30313d');
      container.style.setProperty('--sp-text', '#e0e0e6');
      container.style.setProperty('--sp-border', '#424353');
      container.style.setProperty('--sp-text-secondary', '#a3a4b0');
    }
    Object.keys(map).forEach(function (name) {
      if (typeof vars[name] === 'string' && vars[name]) container.style.setProperty(map[name], vars[name]);
      else container.style.removeProperty(map[name]);
    });
    if (typeof vars.fontSizeBase === 'string') container.style.fontSize = vars.fontSizeBase;
  }

  // ---------------------------------------------------------------------------
  // Small event emitter
  // ---------------------------------------------------------------------------
  function Emitter() {
    this.handlers = {};
  }
  Emitter.prototype.on = function (event, handler) {
    if (typeof handler !== 'function') throw new IntegrationError('on(' + JSON.stringify(event) + ', handler): the handler must be a function.');
    (this.handlers[event] = this.handlers[event] || []).push(handler);
  };
  Emitter.prototype.off = function (event, handler) {
    if (!this.handlers[event]) return;
    if (!handler) delete this.handlers[event];
    else this.handlers[event] = this.handlers[event].filter(function (h) { return h !== handler && h.__original !== handler; });
  };
  Emitter.prototype.emit = function (event, payload) {
    (this.handlers[event] || []).slice().forEach(function (h) {
      try {
        h(payload);
      } catch (e) {
        setTimeout(function () { throw e; }, 0); // report without breaking the element
      }
    });
  };

  // ---------------------------------------------------------------------------
  // Caret-preserving reformat of an input
  // ---------------------------------------------------------------------------
  function reformat(input, formatted) {
    var old = input.value;
    if (formatted === old) return;
    var caret = typeof input.selectionStart === 'number' ? input.selectionStart : old.length;
    var atEnd = caret >= old.length;
    var digitsBefore = onlyDigits(old.slice(0, caret)).length;
    input.value = formatted;
    if (document.activeElement !== input) return;
    var pos = formatted.length;
    if (!atEnd) {
      pos = 0;
      var seen = 0;
      while (pos < formatted.length && seen < digitsBefore) {
        if (/\d/.test(formatted[pos])) seen++;
        pos++;
      }
    }
    try {
      input.setSelectionRange(pos, pos);
    } catch (e) { /* some input types refuse selection */ }
  }

  // ---------------------------------------------------------------------------
  // Payment Element
  // ---------------------------------------------------------------------------
  var FIELDS = ['number', 'expiry', 'cvc'];

  function PaymentElement(group, options) {
    this._group = group;
    this._options = Object.assign({}, options || {});
    this._events = new Emitter();
    this._container = null;
    this._inputs = null;
    this._errors = { number: null, expiry: null, cvc: null };
    this._destroyed = false;
    this._mountedAt = null;
    this._focusInside = false;
    this._busy = false;
  }

  PaymentElement.prototype.mount = function (target) {
    if (this._destroyed) throw new IntegrationError('This Element has been destroyed and can no longer be mounted.');
    var parent = target;
    if (typeof target === 'string') {
      parent = document.querySelector(target);
      if (!parent) throw new IntegrationError('The selector you passed to mount() (' + target + ') matches no element on this page.');
    }
    if (!parent || typeof parent.appendChild !== 'function') {
      throw new IntegrationError('mount() needs a CSS selector or a DOM element.');
    }
    if (this._container) throw new IntegrationError('This Element is already mounted. Call unmount() before mounting it again.');
    ensureStyles();
    this._build();
    parent.appendChild(this._container);
    this._mountedAt = parent;
    this._load();
  };

  PaymentElement.prototype._build = function () {
    var self = this;
    var container = document.createElement('div');
    container.className = PREFIX + '-payment-element';
    container.setAttribute('data-standin', 'payment-element');
    applyAppearance(container, this._group._appearance);

    var specs = [
      { name: 'number', label: 'Card number', placeholder: '1234 1234 1234 1234', autocomplete: 'cc-number' },
      { name: 'expiry', label: 'Expiration date', placeholder: 'MM / YY', autocomplete: 'cc-exp' },
      { name: 'cvc', label: 'Security code', placeholder: 'CVC', autocomplete: 'cc-csc' },
    ];
    var errorId = nextId('error');
    var inputs = {};
    specs.forEach(function (spec) {
      var wrap = document.createElement('div');
      wrap.className = PREFIX + '-field ' + PREFIX + '-field--' + spec.name;
      var id = nextId(spec.name);
      var label = document.createElement('label');
      label.htmlFor = id;
      label.textContent = spec.label;
      var input = document.createElement('input');
      input.id = id;
      input.type = 'text';
      input.name = PREFIX + '-' + spec.name;
      input.placeholder = spec.placeholder;
      input.setAttribute('autocomplete', spec.autocomplete);
      input.setAttribute('inputmode', 'numeric');
      input.setAttribute('autocorrect', 'off');
      input.setAttribute('spellcheck', 'false');
      input.setAttribute('aria-describedby', errorId);
      input.setAttribute('aria-invalid', 'false');
      input.addEventListener('input', function (ev) { self._onInput(spec.name, ev); });
      input.addEventListener('blur', function () { self._onFieldBlur(spec.name); });
      wrap.appendChild(label);
      wrap.appendChild(input);
      if (spec.name === 'number') {
        var brand = document.createElement('span');
        brand.className = PREFIX + '-brand';
        brand.setAttribute('aria-hidden', 'true');
        wrap.appendChild(brand);
        self._brandBadge = brand;
      }
      container.appendChild(wrap);
      inputs[spec.name] = input;
    });

    var error = document.createElement('p');
    error.id = errorId;
    error.className = PREFIX + '-error';
    error.setAttribute('role', 'alert');
    container.appendChild(error);

    var note = document.createElement('p');
    note.className = PREFIX + '-note';
    note.textContent = 'Test mode: local Stripe stand-in. No real card is charged.';
    container.appendChild(note);

    container.addEventListener('focusin', function () {
      if (!self._focusInside) {
        self._focusInside = true;
        self._events.emit('focus', { elementType: 'payment' });
      }
    });
    container.addEventListener('focusout', function (ev) {
      if (ev.relatedTarget && container.contains(ev.relatedTarget)) return;
      self._focusInside = false;
      self._events.emit('blur', { elementType: 'payment' });
    });

    this._container = container;
    this._inputs = inputs;
    this._errorLine = error;
    this._setBusy(this._busy);
  };

  // Once mounted, check the client secret (as the real element loads the intent), then
  // announce `ready` or `loaderror`.
  PaymentElement.prototype._load = function () {
    var self = this;
    var container = this._container;
    this._events.emit('loaderstart', { elementType: 'payment' });
    var secret = this._group._clientSecret;
    var check = Promise.resolve(null);
    if (secret) {
      var id = PI_SECRET.exec(secret);
      check = id
        ? apiCall(this._group._stripe._key, 'GET', '/v1/payment_intents/' + encodeURIComponent(id[1]), { client_secret: secret })
          .then(function (r) { return r.error || null; })
        : Promise.resolve({ type: 'invalid_request_error', message: 'The client secret passed to elements() is not a PaymentIntent client secret.' });
    }
    check.then(function (error) {
      if (self._container !== container) return; // unmounted meanwhile
      if (error) {
        self._errorLine.textContent = error.message;
        self._events.emit('loaderror', { elementType: 'payment', error: error });
      } else {
        self._events.emit('ready', { elementType: 'payment' });
      }
    });
  };

  PaymentElement.prototype._values = function () {
    var i = this._inputs;
    return i ? { number: i.number.value, expiry: i.expiry.value, cvc: i.cvc.value } : { number: '', expiry: '', cvc: '' };
  };

  PaymentElement.prototype._check = function (field) {
    var v = this._values();
    if (field === 'number') return checkNumber(v.number);
    if (field === 'expiry') return checkExpiry(v.expiry);
    return checkCvc(v.cvc, v.number);
  };

  PaymentElement.prototype._onInput = function (field, ev) {
    var input = this._inputs[field];
    var deleting = !!(ev && typeof ev.inputType === 'string' && ev.inputType.indexOf('delete') === 0);
    if (field === 'number') {
      reformat(input, formatCardNumber(input.value));
      var info = brandOf(onlyDigits(input.value));
      this._brandBadge.textContent = input.value ? info.label : '';
      // A brand change can shorten the security code.
      var cvc = this._inputs.cvc;
      var maxCvc = info.cvc;
      if (onlyDigits(cvc.value).length > maxCvc) cvc.value = onlyDigits(cvc.value).slice(0, maxCvc);
    } else if (field === 'expiry') {
      reformat(input, formatExpiry(input.value, deleting));
    } else {
      reformat(input, onlyDigits(input.value).slice(0, cvcLength(this._inputs.number.value)));
    }
    var err = this._check(field);
    this._errors[field] = err && err.hard ? err : null;
    this._render();
    this._emitChange();
  };

  PaymentElement.prototype._onFieldBlur = function (field) {
    if (!this._inputs) return;
    if (this._inputs[field].value === '') {
      this._errors[field] = null;
    } else {
      this._errors[field] = this._check(field);
    }
    this._render();
  };

  PaymentElement.prototype._render = function () {
    if (!this._inputs) return;
    var first = null;
    var self = this;
    FIELDS.forEach(function (f) {
      var err = self._errors[f];
      self._inputs[f].setAttribute('aria-invalid', err ? 'true' : 'false');
      if (err && !first) first = err;
    });
    this._errorLine.textContent = first ? first.message : '';
  };

  PaymentElement.prototype._state = function () {
    var self = this;
    var v = this._values();
    var complete = FIELDS.every(function (f) { return self._check(f) === null; });
    var empty = !v.number && !v.expiry && !v.cvc;
    return { complete: complete, empty: empty };
  };

  PaymentElement.prototype._emitChange = function () {
    var s = this._state();
    this._events.emit('change', {
      elementType: 'payment',
      complete: s.complete,
      empty: s.empty,
      collapsed: false,
      value: { type: 'card' },
    });
  };

  // Check every field, show the first problem, and return it as a Stripe.js error.
  PaymentElement.prototype._validate = function () {
    var self = this;
    if (!this._inputs) {
      return { type: 'validation_error', code: 'incomplete_number', message: MESSAGES.incomplete_number };
    }
    var first = null;
    FIELDS.forEach(function (f) {
      var err = self._check(f);
      self._errors[f] = err;
      if (err && !first) first = err;
    });
    this._render();
    if (!first) return null;
    var bad = FIELDS.filter(function (f) { return self._errors[f]; })[0];
    try {
      this._inputs[bad].focus();
    } catch (e) { /* ignore */ }
    return { type: 'validation_error', code: first.code, message: first.message };
  };

  PaymentElement.prototype._cardParams = function () {
    var v = this._values();
    var exp = parseExpiry(v.expiry);
    return {
      number: onlyDigits(v.number),
      exp_month: String(exp.month),
      exp_year: String(exp.year),
      cvc: onlyDigits(v.cvc),
    };
  };

  PaymentElement.prototype._setBusy = function (busy) {
    this._busy = busy;
    if (!this._inputs) return;
    var self = this;
    FIELDS.forEach(function (f) { self._inputs[f].readOnly = busy; });
    this._container.setAttribute('aria-busy', busy ? 'true' : 'false');
  };

  PaymentElement.prototype.unmount = function () {
    if (!this._container) return;
    if (this._container.parentNode) this._container.parentNode.removeChild(this._container);
    this._container = null;
    this._inputs = null;
    this._errors = { number: null, expiry: null, cvc: null };
    this._mountedAt = null;
    this._focusInside = false;
  };

  PaymentElement.prototype.destroy = function () {
    this.unmount();
    this._destroyed = true;
    this._events = new Emitter();
    if (this._group._elements.payment === this) delete this._group._elements.payment;
  };

  PaymentElement.prototype.on = function (event, handler) {
    this._events.on(event, handler);
    return this;
  };

  PaymentElement.prototype.once = function (event, handler) {
    var self = this;
    var wrapped = function (payload) {
      self._events.off(event, wrapped);
      handler(payload);
    };
    wrapped.__original = handler;
    this._events.on(event, wrapped);
    return this;
  };

  PaymentElement.prototype.off = function (event, handler) {
    this._events.off(event, handler);
    return this;
  };

  PaymentElement.prototype.focus = function () {
    if (this._inputs) this._inputs.number.focus();
  };

  PaymentElement.prototype.blur = function () {
    if (this._inputs && this._container.contains(document.activeElement)) document.activeElement.blur();
  };

  PaymentElement.prototype.clear = function () {
    if (!this._inputs) return;
    var self = this;
    FIELDS.forEach(function (f) { self._inputs[f].value = ''; });
    this._brandBadge.textContent = '';
    this._errors = { number: null, expiry: null, cvc: null };
    this._render();
    this._emitChange();
  };

  PaymentElement.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };

  PaymentElement.prototype.collapse = function () {
    return this;
  };

  // ---------------------------------------------------------------------------
  // Elements group
  // ---------------------------------------------------------------------------
  function Elements(stripe, options) {
    options = options || {};
    this._stripe = stripe;
    this._clientSecret = options.clientSecret || null;
    if (this._clientSecret !== null && typeof this._clientSecret !== 'string') {
      throw new IntegrationError('elements(): clientSecret must be a string.');
    }
    // Without an intent (Stripe's deferred-intent flow) the group says what it will pay:
    // `mode`, `amount` in minor units and `currency`. The intent comes later, at confirmation.
    this._deferred = this._clientSecret === null && options.mode !== undefined;
    if (this._clientSecret !== null && options.mode !== undefined) {
      throw new IntegrationError('elements(): pass either `clientSecret` or `mode`, not both.');
    }
    if (this._deferred) {
      if (options.mode !== 'payment') {
        throw new IntegrationError(
          'elements(): the stand-in supports `mode: "payment"`; you passed: ' + describe(options.mode) + '.'
        );
      }
      checkDeferredAmount(options, 'elements()');
    }
    this._submitted = false;
    this._appearance = options.appearance || null;
    this._options = Object.assign({}, options);
    this._elements = {};
  }

  Elements.prototype.create = function (type, options) {
    if (type !== 'payment') {
      throw new IntegrationError('Element type "' + type + '" is not supported by the Stripe stand-in; use the Payment Element ("payment").');
    }
    if (this._elements.payment) {
      throw new IntegrationError('Only one Payment Element can be created per elements() group.');
    }
    if (this._clientSecret === null && !this._deferred) {
      throw new IntegrationError(
        'In order to create a payment element, pass a `clientSecret` (of a PaymentIntent) or a ' +
        '`mode` with its `amount` and `currency` when creating the Elements group.'
      );
    }
    var el = new PaymentElement(this, options);
    this._elements.payment = el;
    return el;
  };

  Elements.prototype.getElement = function (type) {
    return this._elements[type] || null;
  };

  function checkDeferredAmount(options, method) {
    if (typeof options.amount !== 'number' || !Number.isInteger(options.amount) || options.amount < 0) {
      throw new IntegrationError(method + ': `amount` must be a non-negative integer in the smallest currency unit. You passed: ' + describe(options.amount) + '.');
    }
    if (typeof options.currency !== 'string' || !/^[a-z]{3}$/.test(options.currency)) {
      throw new IntegrationError(method + ': `currency` must be a three-letter ISO code in lowercase. You passed: ' + describe(options.currency) + '.');
    }
  }

  Elements.prototype.update = function (options) {
    options = options || {};
    if (this._deferred && (options.amount !== undefined || options.currency !== undefined)) {
      checkDeferredAmount(Object.assign({}, this._options, options), 'elements.update()');
    }
    Object.assign(this._options, options);
    if (options.appearance) {
      this._appearance = options.appearance;
      var el = this._elements.payment;
      if (el && el._container) applyAppearance(el._container, this._appearance);
    }
  };

  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };

  Elements.prototype.submit = function () {
    var el = this._elements.payment;
    if (!el || !el._inputs) {
      return Promise.reject(new IntegrationError('elements.submit() needs a mounted Payment Element.'));
    }
    var error = el._validate();
    this._submitted = !error;
    return Promise.resolve(error ? { error: error } : {});
  };

  // ---------------------------------------------------------------------------
  // 3D Secure test dialog
  // ---------------------------------------------------------------------------
  function formatAmount(amount, currency) {
    if (typeof amount !== 'number' || !currency) return '';
    try {
      var fmt = new Intl.NumberFormat(undefined, { style: 'currency', currency: currency.toUpperCase() });
      var digits = fmt.resolvedOptions().maximumFractionDigits;
      return fmt.format(amount / Math.pow(10, digits));
    } catch (e) {
      return amount + ' ' + currency.toUpperCase();
    }
  }

  // Shows the dialog and resolves 'complete' or 'fail' once a button is pressed;
  // the caller then finishes via `finish(result)` which removes the dialog.
  function showThreeDSDialog(paymentIntent, onChoice) {
    ensureStyles();
    var dialog = document.createElement('dialog');
    var supportsModal = typeof dialog.showModal === 'function';
    if (!supportsModal) {
      dialog = document.createElement('div');
      dialog.setAttribute('role', 'dialog');
      dialog.setAttribute('data-fallback', '');
    }
    dialog.className = PREFIX + '-3ds';
    dialog.setAttribute('aria-modal', 'true');
    var titleId = nextId('3ds-title');
    var descId = nextId('3ds-desc');
    dialog.setAttribute('aria-labelledby', titleId);
    dialog.setAttribute('aria-describedby', descId);

    var title = document.createElement('h2');
    title.id = titleId;
    title.textContent = '3D Secure authentication';
    var desc = document.createElement('p');
    desc.id = descId;
    var amount = formatAmount(paymentIntent.amount, paymentIntent.currency);
    desc.textContent = 'Test authentication for this payment' + (amount ? ' of ' + amount : '') + '.';
    var hint = document.createElement('p');
    hint.textContent = 'This is the local Stripe stand-in. Complete approves the authentication; Fail rejects it.';

    var buttons = document.createElement('div');
    buttons.className = PREFIX + '-3ds-buttons';
    var complete = document.createElement('button');
    complete.type = 'button';
    complete.className = PREFIX + '-complete';
    complete.textContent = 'Complete';
    var fail = document.createElement('button');
    fail.type = 'button';
    fail.className = PREFIX + '-fail';
    fail.textContent = 'Fail';
    buttons.appendChild(complete);
    buttons.appendChild(fail);

    dialog.appendChild(title);
    dialog.appendChild(desc);
    dialog.appendChild(hint);
    dialog.appendChild(buttons);

    var overlay = null;
    var previousFocus = document.activeElement;
    if (supportsModal) {
      // Escape must not dismiss the challenge silently: the customer has to choose.
      dialog.addEventListener('cancel', function (ev) { ev.preventDefault(); });
      document.body.appendChild(dialog);
      dialog.showModal();
    } else {
      overlay = document.createElement('div');
      overlay.className = PREFIX + '-3ds-overlay';
      document.body.appendChild(overlay);
      document.body.appendChild(dialog);
    }
    complete.focus();

    function choose(outcome) {
      complete.disabled = true;
      fail.disabled = true;
      dialog.setAttribute('aria-busy', 'true');
      onChoice(outcome);
    }
    complete.addEventListener('click', function () { choose('complete'); });
    fail.addEventListener('click', function () { choose('fail'); });

    return function remove() {
      if (supportsModal && dialog.open) dialog.close();
      if (dialog.parentNode) dialog.parentNode.removeChild(dialog);
      if (overlay && overlay.parentNode) overlay.parentNode.removeChild(overlay);
      if (previousFocus && typeof previousFocus.focus === 'function' && document.contains(previousFocus)) {
        try {
          previousFocus.focus();
        } catch (e) { /* ignore */ }
      }
    };
  }

  // ---------------------------------------------------------------------------
  // PaymentIntent outcomes
  // ---------------------------------------------------------------------------
  var DONE = ['succeeded', 'processing', 'requires_capture'];

  function intentError(paymentIntent) {
    var last = paymentIntent && paymentIntent.last_payment_error;
    var err = Object.assign(
      { type: 'invalid_request_error', message: 'The payment could not be completed. Please try another payment method.' },
      last && typeof last === 'object' ? withoutNulls(last) : {}
    );
    err.payment_intent = paymentIntent;
    return err;
  }

  // ---------------------------------------------------------------------------
  // The Stripe object
  // ---------------------------------------------------------------------------
  function StripeInstance(key, options) {
    this._key = key;
    this._options = Object.assign({}, options || {});
    this._inFlight = null;
  }

  StripeInstance.prototype.elements = function (options) {
    return new Elements(this, options);
  };

  StripeInstance.prototype._api = function (method, path, params) {
    return apiCall(this._key, method, path, params);
  };

  // Runs the test 3D Secure challenge for a PaymentIntent in requires_action.
  // Resolves {paymentIntent} | {error}, or never (a full-page redirect).
  StripeInstance.prototype._handleAction = function (paymentIntent, clientSecret) {
    var self = this;
    var action = paymentIntent.next_action || {};
    if (action.type === 'redirect_to_url' && action.redirect_to_url && action.redirect_to_url.url) {
      window.location.assign(action.redirect_to_url.url);
      return new Promise(function () {});
    }
    var sdk = action.type === 'use_stripe_sdk' ? action.use_stripe_sdk || {} : null;
    if (!sdk || (sdk.type && sdk.type !== 'three_d_secure_redirect' && sdk.type !== 'stripe_3ds2_fingerprint')) {
      return Promise.resolve({
        error: {
          type: 'invalid_request_error',
          code: 'payment_intent_unexpected_state',
          message: 'The stand-in cannot handle the next action of this PaymentIntent (' + (action.type || 'none') + ').',
          payment_intent: paymentIntent,
        },
      });
    }
    return new Promise(function (resolve) {
      var remove = showThreeDSDialog(paymentIntent, function (outcome) {
        self._api('POST', '/_standin/payment_intents/' + encodeURIComponent(paymentIntent.id) + '/authenticate', {
          client_secret: clientSecret,
          outcome: outcome,
        }).then(function (r) {
          remove();
          resolve(r.error ? { error: r.error } : self._outcome(r.data));
        });
      });
    });
  };

  // Maps a PaymentIntent after confirmation/authentication to {paymentIntent} | {error}.
  StripeInstance.prototype._outcome = function (paymentIntent) {
    if (DONE.indexOf(paymentIntent.status) !== -1) return { paymentIntent: paymentIntent };
    return { error: intentError(paymentIntent) };
  };

  StripeInstance.prototype.confirmPayment = function (options) {
    var self = this;
    if (this._inFlight) return this._inFlight; // a second click waits for the first confirmation
    var run;
    try {
      run = this._confirmPayment(options || {});
    } catch (e) {
      return Promise.reject(e);
    }
    var promise = run.then(
      function (result) { self._inFlight = null; return result; },
      function (error) { self._inFlight = null; throw error; }
    );
    this._inFlight = promise;
    return promise;
  };

  StripeInstance.prototype._confirmPayment = function (options) {
    var self = this;
    var elements = options.elements;
    if (!(elements instanceof Elements)) {
      throw new IntegrationError('confirmPayment(): pass the `elements` group your Payment Element was created from.');
    }
    if (elements._stripe !== this) {
      throw new IntegrationError('confirmPayment(): the `elements` group was created by a different Stripe instance.');
    }
    var element = elements._elements.payment;
    if (!element || !element._inputs) {
      throw new IntegrationError('confirmPayment(): the Payment Element of this `elements` group is not mounted.');
    }
    if (elements._deferred && !options.clientSecret) {
      throw new IntegrationError('confirmPayment(): the `elements` group was created without an intent, so pass the `clientSecret` of the PaymentIntent you made for it.');
    }
    if (elements._deferred && !elements._submitted) {
      throw new IntegrationError(
        'confirmPayment(): elements.submit() must be called before stripe.confirmPayment(). ' +
        'Call elements.submit() as soon as your customer presses pay, prior to any asynchronous work.'
      );
    }
    var clientSecret = options.clientSecret || elements._clientSecret;
    intentIdFromSecret(clientSecret, 'confirmPayment clientSecret');
    // Each confirmation needs a fresh submit.
    elements._submitted = false;
    var redirect = options.redirect === undefined ? 'always' : options.redirect;
    if (redirect !== 'always' && redirect !== 'if_required') {
      throw new IntegrationError('confirmPayment(): `redirect` must be "always" or "if_required".');
    }
    var confirmParams = Object.assign({}, options.confirmParams || {});
    var returnUrl = confirmParams.return_url;
    if (returnUrl !== undefined) {
      try {
        returnUrl = new URL(returnUrl).toString();
      } catch (e) {
        throw new IntegrationError('confirmPayment(): confirmParams.return_url must be an absolute URL. You passed: ' + describe(returnUrl) + '.');
      }
    } else if (redirect === 'always') {
      throw new IntegrationError('confirmPayment(): confirmParams.return_url is required unless you pass redirect: "if_required".');
    }

    var validation = element._validate();
    if (validation) return Promise.resolve({ error: validation });

    var intentId = PI_SECRET.exec(clientSecret)[1];
    var pmData = confirmParams.payment_method_data || {};
    delete confirmParams.payment_method_data;

    element._setBusy(true);
    return (async function () {
      try {
        if (elements._deferred) {
          // As Stripe.js does, the intent must be in the currency the group was created with.
          var current = await self._api('GET', '/v1/payment_intents/' + encodeURIComponent(intentId), { client_secret: clientSecret });
          if (current.error) return { error: current.error };
          var wanted = elements._options.currency;
          if (current.data.currency !== wanted) {
            throw new IntegrationError(
              'confirmPayment(): the PaymentIntent is in ' + current.data.currency + ' but the `elements` group ' +
              'was created with currency ' + wanted + '. Pass the same currency to elements() or elements.update().'
            );
          }
        }
        var pmParams = Object.assign({}, pmData, { type: 'card', card: element._cardParams() });
        var pm = await self._api('POST', '/v1/payment_methods', pmParams);
        if (pm.error) return { error: pm.error };

        var confirmBody = Object.assign({}, confirmParams, { client_secret: clientSecret, payment_method: pm.data.id });
        var confirmed = await self._api('POST', '/v1/payment_intents/' + encodeURIComponent(intentId) + '/confirm', confirmBody);
        if (confirmed.error) return { error: confirmed.error };

        var result;
        var paymentIntent = confirmed.data;
        if (paymentIntent.status === 'requires_action') {
          result = await self._handleAction(paymentIntent, clientSecret);
        } else {
          result = self._outcome(paymentIntent);
        }
        if (result.error || redirect === 'if_required') return result;

        var pi = result.paymentIntent;
        var target = new URL(returnUrl);
        target.searchParams.set('payment_intent', pi.id);
        target.searchParams.set('payment_intent_client_secret', clientSecret);
        target.searchParams.set('redirect_status', pi.status === 'processing' ? 'processing' : 'succeeded');
        window.location.assign(target.toString());
        return new Promise(function () {}); // the page is going away
      } finally {
        element._setBusy(false);
      }
    })();
  };

  // confirmCardPayment(clientSecret, {payment_method: 'pm_...' | {card: paymentElement, billing_details}}, {handleActions})
  StripeInstance.prototype.confirmCardPayment = function (clientSecret, data, options) {
    var self = this;
    var intentId;
    try {
      intentId = intentIdFromSecret(clientSecret, 'confirmCardPayment');
    } catch (e) {
      return Promise.reject(e);
    }
    data = Object.assign({}, data || {});
    var handleActions = !options || options.handleActions !== false;
    var method = data.payment_method;
    delete data.payment_method;
    return (async function () {
      var pmId = typeof method === 'string' ? method : null;
      if (!pmId && method && method.card instanceof PaymentElement) {
        var element = method.card;
        var validation = element._validate();
        if (validation) return { error: validation };
        var pmParams = { type: 'card', card: element._cardParams() };
        if (method.billing_details) pmParams.billing_details = method.billing_details;
        var pm = await self._api('POST', '/v1/payment_methods', pmParams);
        if (pm.error) return { error: pm.error };
        pmId = pm.data.id;
      }
      var body = Object.assign({}, data, { client_secret: clientSecret });
      if (pmId) body.payment_method = pmId;
      var confirmed = await self._api('POST', '/v1/payment_intents/' + encodeURIComponent(intentId) + '/confirm', body);
      if (confirmed.error) return { error: confirmed.error };
      if (confirmed.data.status === 'requires_action') {
        if (!handleActions) return { paymentIntent: confirmed.data };
        return self._handleAction(confirmed.data, clientSecret);
      }
      return self._outcome(confirmed.data);
    })();
  };

  StripeInstance.prototype.retrievePaymentIntent = function (clientSecret) {
    var intentId;
    try {
      intentId = intentIdFromSecret(clientSecret, 'retrievePaymentIntent');
    } catch (e) {
      return Promise.reject(e);
    }
    return this._api('GET', '/v1/payment_intents/' + encodeURIComponent(intentId), { client_secret: clientSecret })
      .then(function (r) { return r.error ? { error: r.error } : { paymentIntent: r.data }; });
  };

  StripeInstance.prototype.handleNextAction = function (options) {
    var self = this;
    var clientSecret = options && options.clientSecret;
    var intentId;
    try {
      intentId = intentIdFromSecret(clientSecret, 'handleNextAction');
    } catch (e) {
      return Promise.reject(e);
    }
    return this._api('GET', '/v1/payment_intents/' + encodeURIComponent(intentId), { client_secret: clientSecret })
      .then(function (r) {
        if (r.error) return { error: r.error };
        var pi = r.data;
        if (pi.status === 'requires_action') return self._handleAction(pi, clientSecret);
        if (DONE.indexOf(pi.status) !== -1) return { paymentIntent: pi };
        return {
          error: {
            type: 'invalid_request_error',
            code: 'payment_intent_unexpected_state',
            message: 'This PaymentIntent has no next action to handle (status: ' + pi.status + ').',
            payment_intent: pi,
          },
        };
      });
  };

  StripeInstance.prototype.handleCardAction = function (clientSecret) {
    return this.handleNextAction({ clientSecret: clientSecret });
  };

  // ---------------------------------------------------------------------------
  // Entry point
  // ---------------------------------------------------------------------------
  function Stripe(publishableKey, options) {
    if (typeof publishableKey !== 'string' || publishableKey.trim() === '') {
      throw new IntegrationError('Please call Stripe() with your publishable key. You passed: ' + describe(publishableKey) + '.');
    }
    if (/^(sk|rk)_/.test(publishableKey)) {
      throw new IntegrationError(
        'Stripe() was given a secret (or restricted) key. Secret keys must never be used in the browser; ' +
        'pass your publishable key (pk_...) instead.'
      );
    }
    if (!/^pk_/.test(publishableKey)) {
      throw new IntegrationError('Stripe() expects a publishable key starting with pk_. You passed: ' + describe(publishableKey) + '.');
    }
    return new StripeInstance(publishableKey, options);
  }
  Stripe.version = 3;
  Stripe.__standin = true;
  Stripe.IntegrationError = IntegrationError;

  window.Stripe = Stripe;
})();
