//! The run's results: a text summary (operations by outcome, faults, each checker's
//! verdict) and an HTML page with an SVG timeline of operations, faults and the leader.

use crate::history::{operations, Outcome, Record};
use crate::run::RunOutcome;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The text summary printed at the end of a run (also written to `summary.txt`).
pub fn summary(o: &RunOutcome) -> String {
    let c = &o.config;
    let ops = operations(&o.records);
    let mut s = String::new();
    let classes: Vec<&str> = c.classes.iter().map(|c| c.name()).collect();
    let _ = writeln!(
        s,
        "chaos run: seed {}, {} replicas, nemesis {}, {} s of faults + {} s quiet",
        c.seed,
        c.n_nodes,
        if classes.is_empty() {
            "none".into()
        } else {
            classes.join(",")
        },
        c.time_s,
        c.quiet_s
    );
    let mut by: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    let mut total = [0usize; 3];
    for op in &ops {
        let k = match op.outcome {
            Outcome::Ok => 0,
            Outcome::Fail => 1,
            Outcome::Unknown => 2,
        };
        by.entry(op.op.name()).or_default()[k] += 1;
        total[k] += 1;
    }
    let _ = writeln!(
        s,
        "operations: {} (ok {}, fail {}, unknown {})",
        ops.len(),
        total[0],
        total[1],
        total[2]
    );
    for (name, n) in &by {
        let _ = writeln!(
            s,
            "  {name:<14} ok {:>6}  fail {:>5}  unknown {:>5}",
            n[0], n[1], n[2]
        );
    }
    let mut fault_counts: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &o.faults {
        *fault_counts.entry(f.class.name()).or_default() += 1;
    }
    let fc: Vec<String> = fault_counts
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    let _ = writeln!(s, "faults: {} injected ({})", o.faults.len(), fc.join(", "));
    for f in &o.faults {
        let _ = writeln!(s, "  {:>7.1} s  {}", f.start_ns as f64 / 1e9, f.description);
    }
    let leaders = o
        .records
        .iter()
        .filter(|r| matches!(r, Record::Leader { node: Some(_), .. }))
        .count();
    let _ = writeln!(s, "leader changes seen: {leaders}");
    let _ = writeln!(s, "checkers:");
    let mut n_violations = 0;
    for v in &o.verdicts.verdicts {
        let _ = writeln!(
            s,
            "  {:<15} {}  {}",
            v.name,
            if v.ok { "PASS" } else { "FAIL" },
            v.summary
        );
        for line in v.violations.iter().take(10) {
            let _ = writeln!(s, "      - {line}");
        }
        n_violations += v.violations.len();
    }
    if !o.verdicts.inconclusive_keys.is_empty() {
        let _ = writeln!(
            s,
            "  (linearizability inconclusive for keys {:?}: search budget exhausted)",
            o.verdicts.inconclusive_keys
        );
    }
    let _ = writeln!(
        s,
        "verdict: {} ({} violation(s))",
        if o.ok() { "PASS" } else { "FAIL" },
        n_violations
    );
    let _ = writeln!(s, "results: {}", c.results_dir.display());
    s
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Most operations drawn on the timeline, evenly sampled (the history has all of them).
const MAX_DRAWN_OPS: usize = 40_000;

/// Writes `summary.txt` and `report.html` into the results dir.
pub fn write(o: &RunOutcome) -> std::io::Result<()> {
    let dir = &o.config.results_dir;
    std::fs::write(dir.join("summary.txt"), &o.summary)?;
    let ops = operations(&o.records);
    let end_ns = o.records.iter().map(|r| r.t_ns()).max().unwrap_or(1).max(1);
    let n = o.config.n_nodes;
    let width = 1400.0;
    let left = 60.0;
    let row_h = 36.0;
    let top = 40.0;
    let x = |t: u64| left + (t as f64 / end_ns as f64) * (width - left - 10.0);
    let height = top + row_h * n as f64 + 40.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">"#
    );
    // Faults: shaded bands.
    for f in &o.faults {
        let (a, b) = (x(f.start_ns), x(f.end_ns.unwrap_or(end_ns)));
        let _ = write!(
            svg,
            r##"<rect x="{a:.1}" y="{}" width="{:.1}" height="{}" fill="#f4c7c3" opacity="0.6"><title>{}</title></rect>"##,
            top - 8.0,
            (b - a).max(1.0),
            row_h * n as f64 + 8.0,
            esc(&f.description)
        );
        let _ = write!(
            svg,
            r#"<text x="{a:.1}" y="{}" font-size="9">{}</text>"#,
            top - 10.0,
            esc(f.class.name())
        );
    }
    // Leader strip.
    let mut leader_at: Vec<(u64, Option<usize>)> = o
        .records
        .iter()
        .filter_map(|r| {
            if let Record::Leader { t_ns, node } = r {
                Some((*t_ns, *node))
            } else {
                None
            }
        })
        .collect();
    leader_at.push((end_ns, None));
    for w in leader_at.windows(2) {
        if let (t, Some(l)) = w[0] {
            let y = top + row_h * l as f64;
            let _ = write!(
                svg,
                r##"<rect x="{:.1}" y="{y:.1}" width="{:.1}" height="{row_h}" fill="#fff3b0"><title>leader n{}</title></rect>"##,
                x(t),
                (x(w[1].0) - x(t)).max(0.5),
                l + 1
            );
        }
    }
    for i in 0..n {
        let y = top + row_h * i as f64;
        let _ = write!(
            svg,
            r##"<text x="4" y="{:.1}">n{}</text><line x1="{left}" x2="{width}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/>"##,
            y + row_h / 2.0,
            i + 1
        );
    }
    // Operations: one line per op on its replica's row, by process sub-row.
    let stride = ops.len().div_ceil(MAX_DRAWN_OPS).max(1);
    for op in ops.iter().step_by(stride) {
        let color = match op.outcome {
            Outcome::Ok => "#2e7d32",
            Outcome::Fail => "#c62828",
            Outcome::Unknown => "#ef6c00",
        };
        let y = top
            + row_h * op.node.min(n.saturating_sub(1)) as f64
            + 3.0
            + (op.process % 10) as f64 * 3.0;
        let (a, b) = (x(op.invoke_ns), x(op.complete_ns.unwrap_or(end_ns)));
        let _ = write!(
            svg,
            r#"<line x1="{a:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="{color}" stroke-width="2"><title>{} {:?} {:?}</title></line>"#,
            b.max(a + 0.5),
            op.id,
            op.op,
            op.outcome
        );
    }
    // Time axis.
    let secs = end_ns / 1_000_000_000;
    let step = (secs / 20).max(1);
    for s in (0..=secs).step_by(step as usize) {
        let xx = x(s * 1_000_000_000);
        let _ = write!(
            svg,
            r#"<text x="{xx:.1}" y="{:.1}">{s}s</text>"#,
            height - 15.0
        );
    }
    svg.push_str("</svg>");
    let mut html = String::new();
    let _ = write!(html, "<!doctype html><html><head><meta charset=\"utf-8\"><title>chaos run seed {}</title></head><body style=\"font-family:sans-serif\">", o.config.seed);
    let _ = write!(
        html,
        "<h2>Chaos run: {}</h2>",
        if o.ok() { "PASS" } else { "FAIL" }
    );
    let _ = write!(html, "<p>Timeline: rows are replicas (yellow: leader), red bands are faults, lines are operations (green ok, red fail, orange unknown; evenly sampled past 40,000). Hover for details.</p>{svg}");
    let _ = write!(html, "<pre>{}</pre>", esc(&o.summary));
    html.push_str("<h3>Violations</h3><ul>");
    for v in &o.verdicts.verdicts {
        for line in &v.violations {
            let _ = write!(html, "<li><b>{}</b>: {}</li>", v.name, esc(line));
        }
    }
    html.push_str("</ul></body></html>");
    std::fs::write(dir.join("report.html"), html)
}
