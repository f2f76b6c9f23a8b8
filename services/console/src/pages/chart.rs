//! Attempts per minute by outcome as an inline SVG of stacked bars, one
//! bar per minute of the window, drawn on the server (no script, and the
//! CSP allows no inline style: colours come from the stylesheet's classes).

use std::collections::BTreeMap;

use maud::{Markup, html};
use switchyard_proto::v1::{AttemptBucket, AttemptOutcome};

const WIDTH: i64 = 720;
const HEIGHT: i64 = 180;
const OUTCOMES: [(AttemptOutcome, &str); 3] = [
    (AttemptOutcome::Succeeded, "succeeded"),
    (AttemptOutcome::Failed, "failed"),
    (AttemptOutcome::Dead, "dead"),
];

/// Totals per outcome name, in [`OUTCOMES`] order.
pub fn totals(buckets: &[AttemptBucket]) -> Vec<(&'static str, u64)> {
    OUTCOMES
        .iter()
        .map(|(outcome, name)| {
            let sum = buckets
                .iter()
                .filter(|bucket| bucket.outcome == *outcome as i32)
                .map(|bucket| u64::from(bucket.count))
                .sum();
            (*name, sum)
        })
        .collect()
}

/// The chart of the `minutes` minutes starting at `since_minute` (Unix
/// seconds of a whole minute).
pub fn render(buckets: &[AttemptBucket], since_minute: i64, minutes: i64) -> Markup {
    // minute index → counts per outcome
    let mut columns: BTreeMap<i64, [u32; 3]> = BTreeMap::new();
    for bucket in buckets {
        let Some(minute) = bucket.minute.as_ref() else {
            continue;
        };
        let index = (minute.seconds - since_minute) / 60;
        let Some(slot) = OUTCOMES
            .iter()
            .position(|(outcome, _)| *outcome as i32 == bucket.outcome)
        else {
            continue;
        };
        if (0..minutes).contains(&index) {
            columns.entry(index).or_default()[slot] += bucket.count;
        }
    }
    let peak = columns
        .values()
        .map(|counts| counts.iter().map(|c| i64::from(*c)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar = (WIDTH / minutes.max(1)).max(1);
    // (x, y, height, outcome, count) of every drawn segment, bottom up.
    let mut rects = Vec::new();
    for (index, counts) in &columns {
        let mut top = HEIGHT;
        for (slot, count) in counts.iter().enumerate().filter(|(_, count)| **count > 0) {
            let height = (i64::from(*count) * HEIGHT / peak).max(1);
            top -= height;
            rects.push((index * bar, top, height, OUTCOMES[slot].1, *count));
        }
    }
    html! {
        svg #chart class="chart" viewBox={"0 0 " (WIDTH) " " (HEIGHT + 20)} role="img"
            aria-label="Attempts per minute by outcome" {
            line class="axis" x1="0" y1=(HEIGHT) x2=(WIDTH) y2=(HEIGHT) {}
            @for (x, y, height, outcome, count) in &rects {
                rect class={"bar " (outcome)} x=(x) y=(y) width=((bar - 1).max(1)) height=(height) {
                    title { (count) " " (outcome) }
                }
            }
            text class="label" x="0" y=(HEIGHT + 15) { "-" (minutes) " min" }
            text class="label" x=(WIDTH - 30) y=(HEIGHT + 15) { "now" }
            text class="label" x="0" y="12" { "peak " (peak) "/min" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(minute: i64, outcome: AttemptOutcome, count: u32) -> AttemptBucket {
        AttemptBucket {
            minute: Some(prost_types::Timestamp {
                seconds: minute,
                nanos: 0,
            }),
            outcome: outcome as i32,
            count,
        }
    }

    #[test]
    fn bars_stack_per_minute_and_totals_add_up() {
        let buckets = [
            bucket(600, AttemptOutcome::Succeeded, 3),
            bucket(600, AttemptOutcome::Dead, 1),
            bucket(660, AttemptOutcome::Failed, 2),
        ];
        let svg = render(&buckets, 600, 60).into_string();
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("class=\"bar dead\""));
        assert!(svg.contains("peak 4/min"));
        assert_eq!(
            totals(&buckets),
            vec![("succeeded", 3), ("failed", 2), ("dead", 1)]
        );
    }
}
