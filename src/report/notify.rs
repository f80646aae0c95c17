//! `notify`: where a pipeline stage's message went.

use serde::Serialize;

use super::{Report, notifications_text};
use crate::commands::notify::Outcome;
use crate::exit::Exit;

#[derive(Serialize, schemars::JsonSchema)]
#[schemars(rename = "NotifyDocument")]
struct Json<'a> {
    notice: &'a crate::notify::Notice,
    notifications: &'a [crate::notify::Delivery],
}

impl Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Json {
            notice: &self.notice,
            notifications: &self.notifications,
        }
        .serialize(s)
    }
}

super::schema_as!(Outcome => Json<'static>);

impl Report for Outcome {
    fn text(&self) -> String {
        let mut out = format!("{}\n", self.notice.headline());
        if self.notifications.is_empty() {
            out.push_str("no channel wants this notice ([notifications] channels and on)\n");
        }
        out.push_str(&notifications_text(&self.notifications));
        out
    }

    fn markdown(&self) -> String {
        self.text()
    }

    fn exit(&self) -> Exit {
        if self.warning_exit && self.notifications.iter().any(|d| !d.sent) {
            Exit::Warning
        } else {
            Exit::Ok
        }
    }
}
