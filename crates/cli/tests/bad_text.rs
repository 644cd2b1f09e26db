//! Issue 16 item 6, end to end through the binary: bytes that are not UTF-8 in a column the model does not read
//! skipped the row in `score` (which parsed every column) but not in `run`. Both commands now parse the columns the
//! model reads, so such a row is scored by both, and the same bytes in a column the model reads cost that row in both.

use std::path::Path;
use std::process::Command;

use fraudstream_testkit::{ieee_cis_sample, shared_reference};

/// `column` of the sample's 7th transaction replaced by bytes that are not UTF-8, written to `dir`.
fn edited(dir: &Path, column: &str) -> std::path::PathBuf {
    let sample = std::fs::read(ieee_cis_sample().join("train_transaction.csv")).expect("sample");
    let mut lines: Vec<Vec<u8>> = sample.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    let at = lines[0].split(|b| *b == b',').position(|h| h == column.as_bytes()).expect("column");
    let mut fields: Vec<Vec<u8>> = lines[7].split(|b| *b == b',').map(<[u8]>::to_vec).collect();
    fields[at] = b"x\xffy".to_vec();
    lines[7] = fields.join(&b","[..]);
    let path = dir.join(format!("{column}.csv"));
    std::fs::write(&path, lines.join(&b"\n"[..])).expect("write");
    path
}

/// Data rows of a CSV output.
fn rows(path: &Path) -> usize {
    std::fs::read_to_string(path).expect("output").lines().skip(1).filter(|l| !l.is_empty()).count()
}

#[test]
fn text_that_is_not_utf8_costs_the_same_rows_in_score_and_run() {
    let bin = env!("CARGO_BIN_EXE_fraudstream");
    let model = shared_reference().join("seed-model/pipeline_75.onnx");
    let identities = ieee_cis_sample().join("train_identity.csv");
    let tmp = tempfile::tempdir().expect("tmp");
    // R_emaildomain is not among the seed model's inputs; card4 is.
    for (column, scored) in [("R_emaildomain", 1500), ("card4", 1499)] {
        let tx = edited(tmp.path(), column);
        // `score` and `run` over the same input, each writing to `out`.
        let invoke = |command: &str, out: &Path| {
            let output = Command::new(bin)
                .args([command, "--quiet", "--model"])
                .arg(&model)
                .arg("--transactions")
                .arg(&tx)
                .arg("--identities")
                .arg(&identities)
                .arg("--out")
                .arg(out)
                .output()
                .expect(command);
            assert!(output.status.success(), "{command}: {}", String::from_utf8_lossy(&output.stderr));
            output
        };
        let scores = tmp.path().join(format!("{column}-scores.csv"));
        invoke("score", &scores);
        let run_dir = tmp.path().join(format!("{column}-run"));
        let out = invoke("run", &run_dir);
        if scored < 1500 {
            let summary = String::from_utf8_lossy(&out.stdout);
            assert!(summary.contains("dead_letters.jsonl"), "the summary points to the dead letters: {summary}");
        }
        assert_eq!((rows(&scores), rows(&run_dir.join("scores.csv"))), (scored, scored), "`{column}`");
        let dead = std::fs::read_to_string(run_dir.join("dead_letters.jsonl")).unwrap_or_default();
        assert_eq!(dead.matches("\"kind\":\"unreadable\"").count(), 1500 - scored, "`{column}`: {dead}");
    }
}
