//! Every route path, in one place, below both `auth` and `routes` (both use them).

pub const HOME: &str = "/";
pub const UPCOMING: &str = "/upcoming";
pub const PREVIOUS: &str = "/previous";
pub const RECORDINGS: &str = "/recordings";
pub const PERSONAL_ROOM: &str = "/personal-room";
pub const SIGN_IN: &str = "/sign-in";
pub const SIGN_UP: &str = "/sign-up";
pub const SIGN_OUT: &str = "/sign-out";
pub const HEALTH: &str = "/healthz";
pub const INSTANT: &str = "/meetings/instant";
pub const SCHEDULE: &str = "/meetings/schedule";
pub const JOIN: &str = "/meetings/join";
pub const MEETING: &str = "/meeting/{id}";
pub const MEETING_READY: &str = "/meeting/{id}/ready";
pub const MEETING_ENTER: &str = "/meeting/{id}/enter";
pub const MEETING_CALENDAR: &str = "/meeting/{id}/calendar.ics";
pub const MEETING_CANCEL: &str = "/meeting/{id}/cancel";
pub const MEETING_END: &str = "/meeting/{id}/end";
pub const MEETING_SIGNAL: &str = "/meeting/{id}/signal";
pub const MEETING_PRESENCE: &str = "/meeting/{id}/presence";
pub const MEETING_CHAT: &str = "/meeting/{id}/chat";
pub const MEETING_CHAT_TEXT: &str = "/meeting/{id}/chat.txt";
pub const API_TOKEN: &str = "/api/token";
pub const STREAM_WEBHOOK: &str = "/webhooks/stream";
