//! Charts drawn on the server as SVG: no script, nothing fetched, and the page's policy needs
//! nothing beyond its own stylesheet (SVG's presentation attributes are not styles).

use std::fmt::Write;

use mana_core::mail::escape_html;

const WIDTH: i64 = 600;
const HEIGHT: i64 = 180;
/// Room for the axis labels: left for the largest value, below for the first and last label.
const LEFT: i64 = 48;
const BOTTOM: i64 = 22;
const TOP: i64 = 8;

/// A column per value, in order, scaled to the largest; each column names its label and
/// value on hover (`<title>`), and the first and last labels sit under the axis.
pub fn columns(description: &str, values: &[(String, i64)]) -> String {
    let max = values.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let plot_width = WIDTH - LEFT;
    let plot_height = HEIGHT - BOTTOM - TOP;
    let slot = plot_width as f64 / values.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{}\">",
        escape_html(description)
    );
    let baseline = HEIGHT - BOTTOM;
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{baseline}\" x2=\"{WIDTH}\" y2=\"{baseline}\" stroke=\"#999\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">{max}</text>\
         <text x=\"{}\" y=\"{baseline}\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">0</text>",
        LEFT - 6,
        TOP + 10,
        LEFT - 6,
    );
    for (index, (label, value)) in values.iter().enumerate() {
        let height = ((*value as f64 / max as f64) * plot_height as f64).round();
        let x = LEFT as f64 + index as f64 * slot + slot * 0.15;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"#3b6fd8\">\
             <title>{}: {value}</title></rect>",
            baseline as f64 - height,
            slot * 0.7,
            escape_html(label),
        );
    }
    if let (Some((first, _)), Some((last, _))) = (values.first(), values.last()) {
        let y = HEIGHT - 6;
        let _ = write!(
            svg,
            "<text x=\"{LEFT}\" y=\"{y}\" font-size=\"11\" fill=\"#555\">{}</text>\
             <text x=\"{WIDTH}\" y=\"{y}\" text-anchor=\"end\" font-size=\"11\" fill=\"#555\">{}</text>",
            escape_html(first),
            escape_html(last),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// A bar per named value, one under the other, scaled to the largest.
pub fn bars(description: &str, values: &[(String, i64)]) -> String {
    const ROW: i64 = 26;
    const LABEL: i64 = 170;
    let height = ROW * values.len().max(1) as i64 + 4;
    let max = values.iter().map(|(_, value)| *value).max().unwrap_or(0).max(1);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {height}\" role=\"img\" aria-label=\"{}\">",
        escape_html(description)
    );
    for (index, (label, value)) in values.iter().enumerate() {
        let y = index as i64 * ROW + 4;
        let width = ((*value as f64 / max as f64) * (WIDTH - LABEL - 60) as f64).round();
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"13\" fill=\"#222\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{width}\" height=\"18\" fill=\"#3b6fd8\"><title>{}: {value}</title></rect>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\" fill=\"#222\">{value}</text>",
            y + 14,
            escape_html(label),
            escape_html(label),
            LABEL as f64 + width + 6.0,
            y + 14,
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_scaled_to_the_largest_value_and_labels_are_escaped() {
        let svg = columns("Sign-ups <per day>", &[("a<b".into(), 5), ("2026-12-02".into(), 10), ("z".into(), 0)]);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("aria-label=\"Sign-ups &lt;per day&gt;\""));
        assert!(svg.contains("<title>a&lt;b: 5</title>") && !svg.contains("a<b"));
        // The plot is 150 high: the largest column fills it, half the largest half of it.
        assert!(svg.contains("height=\"150.0\""), "{svg}");
        assert!(svg.contains("height=\"75.0\""), "{svg}");
        assert!(svg.contains("height=\"0.0\""), "{svg}");
    }

    #[test]
    fn charts_of_nothing_draw_an_empty_plot() {
        assert!(columns("empty", &[]).ends_with("</svg>"));
        assert!(bars("empty", &[]).ends_with("</svg>"));
        let zeros = columns("zeros", &[("a".into(), 0)]);
        assert!(zeros.contains("height=\"0.0\""));
    }
}
