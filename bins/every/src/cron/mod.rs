//! Cron schedules for `every --cron`: the expression, the calendar, time
//! zones from TZif files, and when an expression is next due.

mod expr;
mod next;
mod zone;

pub use common::civil::format_utc;
pub use expr::Expr;
pub use next::next_after;
pub use zone::Zone;
