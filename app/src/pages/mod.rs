//! The shop's pages, one module per route. Each reads through a server function inside
//! `<Suspense>` and renders complete HTML on the server (`SsrMode::Async`).

mod account;
mod admin;
mod home;
mod order;
mod policy;
mod product;
mod receipt;

pub use account::{
    AccountPage, ForgotPasswordPage, LibraryPage, ResetPasswordPage, SignInPage, SignUpPage,
    VerifyEmailPage,
};
pub use admin::{
    AdminEventsPage, AdminHomePage, AdminNewProductPage, AdminOrderPage, AdminOrdersPage,
    AdminProductPage, AdminProductsPage,
};
pub use home::HomePage;
pub use order::OrderPage;
pub use policy::PolicyPage;
pub use product::ProductPage;
pub use receipt::ReceiptPage;
