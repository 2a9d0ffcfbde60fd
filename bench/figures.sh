# Sourced by the bench scripts: printing figures beside the previous run's. The script sets
# `previous` (the last run's TSV, kept in bench/) and `current` (this run's, moved over it at
# the end).

# figure NAME VALUE UNIT: prints it with the previous run's value, and records it.
figure() {
  local was
  was=$(awk -F'\t' -v k="$1" '$1 == k { print $2 }' "$previous" 2>/dev/null || true)
  printf '%-62s %10s %-5s%s\n' "$1" "$2" "$3" "${was:+ (previous run: $was)}"
  printf '%s\t%s\t%s\n' "$1" "$2" "$3" >>"$current"
}

# ms: wrk's "850.00us", "1.20ms" or "2.10s" on stdin, as milliseconds.
ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 }; printf "%.2f", v }'; }
