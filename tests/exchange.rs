//! Networks to and from Python: `modulab export` / `import` through the real binary, and the
//! README's and docs/EXCHANGE.md's Python run on the files (where python3 with numpy exists).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails at its first broken expectation, with the message")]

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use modulab::train::checkpoint;

mod common;
use common::{modulab, ok};

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every pathway, so every kind of array is exchanged; a few hundred steps, so the network is
/// partly trained and its scores are not all 0 or 1.
fn train(out: &Path) {
    train_with(out, "150", &[r#"model.pathways=["bias","gain","synaptic"]"#, "model.synaptic_rank=2"]);
}

/// The quick preset's tasks on 24 units, trained `steps` steps with the settings `sets`.
fn train_with(out: &Path, steps: &str, sets: &[&str]) {
    let mut args = vec!["train", "--preset", "quick", "--seed", "2", "--steps", steps, "--quiet", "--set", "model.n_units=24"];
    sets.iter().for_each(|s| args.extend(["--set", s]));
    args.extend(["--out", path(out)]);
    ok(modulab(&args));
}

fn eval(run: &Path) -> String {
    ok(modulab(&["eval", "--run", path(run), "--trials", "48", "--json"]))
}

/// A python3 with numpy: the one on PATH, else the system's (scripts/setup installs Debian's
/// python3-numpy; a python3 of pyenv or a virtual environment may come first on PATH without it).
fn python_with_numpy() -> Option<&'static str> {
    static FOUND: OnceLock<Option<&'static str>> = OnceLock::new();
    *FOUND.get_or_init(|| {
        let found = ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|p| Command::new(p).args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success()));
        if found.is_none() {
            eprintln!("python3 with numpy not found: the Python half of this test is skipped");
        }
        found
    })
}

fn python(dir: &Path, code: &str) -> String {
    let python = python_with_numpy().expect("a test that runs Python checks python_with_numpy first");
    let o = Command::new(python).arg("-c").arg(code).current_dir(dir).output().expect("python3 runs");
    assert!(o.status.success(), "python failed:\n{code}\n{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The ```python block after `marker` in a document of the repository.
fn python_block(doc: &str, marker: &str) -> String {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(doc)).unwrap();
    let after = &text[text.find(marker).unwrap_or_else(|| panic!("{doc} has no {marker}"))..];
    let start = after.find("```python\n").expect("a python block") + "```python\n".len();
    let end = after[start..].find("```").expect("the block ends");
    after[start..start + end].to_string()
}

#[test]
fn export_then_import_evaluates_to_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run);
    let original = eval(&run);
    let params = checkpoint::load_run_dir(&run).unwrap().params;
    for file in ["net.npz", "net.safetensors"] {
        let file = dir.path().join(file);
        let said = ok(modulab(&["export", "--run", path(&run), "--out", path(&file)]));
        assert!(said.starts_with("9 parameter arrays of"), "{said}");
        let back = dir.path().join(format!("back-{}", file.extension().unwrap().to_str().unwrap()));
        let flag = if file.extension().unwrap() == "npz" { "--npz" } else { "--safetensors" };
        ok(modulab(&["import", flag, path(&file), "--out", path(&back)]));
        assert_eq!(eval(&back), original, "{}", file.display());
        let imported = checkpoint::load_run_dir(&back).unwrap();
        assert_eq!(imported.params, params);
        assert_eq!(imported.step, 150);
    }
    // the imported run is a run like any other: analyze reads it, the app's loader opens it, and
    // an ambiguity sweep scores it exactly as the original
    let back = dir.path().join("back-npz");
    ok(modulab(&["analyze", "--run", path(&back), "--out", path(&dir.path().join("analysis"))]));
    assert!(dir.path().join("analysis").join("pca.csv").is_file());
    modulab::runner::checkpointing::load_run(&back).expect("the app opens it");
    let sweep = dir.path().join("sweep");
    ok(modulab(&[
        "sweep",
        "ambiguity",
        "--runs",
        path(&run),
        path(&back),
        "--kind",
        "mixture",
        "--levels",
        "0,0.5",
        "--out",
        path(&sweep),
    ]));
    let table = std::fs::read_to_string(sweep.join("ambiguity.csv")).unwrap();
    let rows =
        |name: &str| -> Vec<String> { table.lines().filter_map(|l| l.strip_prefix(&format!("{name},")).map(str::to_string)).collect() };
    assert!(!rows(path(&run)).is_empty() && rows(path(&run)) == rows(path(&back)), "{table}");

    // importing over a run is refused, and nothing is touched
    let again = modulab(&["import", "--npz", path(&dir.path().join("net.npz")), "--out", path(&run)]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a run"));
    assert_eq!(eval(&run), original);
}

#[test]
fn a_foreign_file_needs_settings_that_fit_it() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run);
    let file = dir.path().join("net.safetensors");
    ok(modulab(&["export", "--run", path(&run), "--out", path(&file)]));
    // the settings of other networks: what does not fit is named
    let x = dir.path().join("x");
    let import = |sets: &[&str]| {
        let mut args = vec!["import", "--safetensors", path(&file), "--preset", "quick", "--out", path(&x)];
        sets.iter().for_each(|s| args.extend(["--set", s]));
        let o = modulab(&args);
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    let e = import(&[]);
    assert!(e.contains("it has arrays this network does not use: ctx_gain, syn_u, syn_v"), "{e}");
    let e = import(&[r#"model.pathways=["bias","gain","synaptic"]"#, "model.synaptic_rank=2"]);
    assert!(e.contains("array 'w_in': shape [24, 65], the configuration needs [64, 65]"), "{e}");
    assert!(!x.exists(), "nothing is written for a file that does not fit");
}

#[test]
fn python_reads_the_export_and_recomputes_the_network() {
    if python_with_numpy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run);
    ok(modulab(&["export", "--run", path(&run), "--out", path(&dir.path().join("net.npz")), "--trajectories"]));

    // the README's lines, then every parameter as JSON to compare with the checkpoint
    let readme = python_block("README.md", "<!-- python-export-example -->");
    let dump = "\nprint(json.dumps({k: net[k].ravel().tolist() for k in net.files if not k.startswith('probe/') \
                and k not in ('config_json', 'schema_version', 'step')}))\n";
    let out = python(dir.path(), &(readme + dump));
    let (first, json) = out.split_once('\n').unwrap();
    assert!(first.contains("['bias', 'gain', 'synaptic'] (24, 24) 150"), "{first}");
    let arrays: std::collections::BTreeMap<String, Vec<f64>> = serde_json::from_str(json.trim()).unwrap();
    let params = checkpoint::load_run_dir(&run).unwrap().params;
    assert_eq!(arrays.len(), params.tensors.len());
    for t in &params.tensors {
        let from_python: Vec<f32> = arrays[&t.name].iter().map(|&x| x as f32).collect();
        assert_eq!(from_python, t.data, "{}", t.name);
    }

    // docs/EXCHANGE.md's forward pass gives modulab's own probe rates and outputs
    let worst = numpy_forward_error(dir.path(), "net.npz");
    assert!(worst < 1e-4, "numpy's forward pass differs from modulab's by {worst}");
}

/// The largest difference between docs/EXCHANGE.md's numpy forward pass, run on the probe
/// inputs of the export `file` (written with `--trajectories`), and modulab's own probe rates
/// and outputs stored beside them.
fn numpy_forward_error(dir: &Path, file: &str) -> f64 {
    let forward = python_block("docs/EXCHANGE.md", "<!-- python-forward-example -->");
    let check = format!(
        "\nnet = np.load('{file}')\nworst = 0.0\nfor k, task in enumerate(json.loads(str(net['config_json']))['train']['tasks']):\n    \
         rates, outputs = forward(net, k, net[f'probe/{{task}}/inputs'].astype(np.float64))\n    \
         worst = max(worst, np.abs(rates - net[f'probe/{{task}}/rates']).max(), np.abs(outputs - net[f'probe/{{task}}/outputs']).max())\n\
         print(worst)\n"
    );
    python(dir, &(forward + &check)).trim().parse().unwrap()
}

/// A `dale` network and a per-unit-τ network: the export also holds what the network runs (under
/// Dale's law the effective weights f(W̃)·D, whose columns keep each unit's sign while `w_rec`'s
/// do not, the cell signs and the readout mask; each τ_i), docs/EXCHANGE.md's forward pass
/// reproduces modulab's probe rates from the file, including a gain that numpy code drove below 0
/// (clamped at 0: the unit falls silent in modulab and in numpy alike), and the import takes the
/// files back, with the derived arrays or without them, to the same scores.
#[test]
fn dale_and_per_unit_tau_exports_hold_what_the_network_runs() {
    if python_with_numpy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let at = |name: &str| dir.path().join(name);
    // Dale's law with every pathway, the gain on inhibitory cells only and the synaptic change on
    // the synapses onto excitatory cells (E→E, I→E)
    train_with(
        &at("dale"),
        "60",
        &[
            "model.dale=true",
            r#"model.pathways=["bias","gain","synaptic"]"#,
            "model.gain_cells=inhibitory",
            r#"model.synaptic_blocks=["ee","ie"]"#,
        ],
    );
    let said = ok(modulab(&["export", "--run", path(&at("dale")), "--out", path(&at("dale.npz")), "--trajectories"]));
    assert!(said.contains("what the network runs (w_rec_effective, w_out_effective, cell_sign, readout_mask)"), "{said}");
    let seen = python(
        dir.path(),
        "import numpy as np\nnet = np.load('dale.npz')\nsign, W = net['cell_sign'], net['w_rec_effective']\n\
         print(int(((net['w_rec'] < 0).any(axis=0) & (net['w_rec'] > 0).any(axis=0)).sum()), bool((W * sign >= 0).all()),\n\
               np.array_equal(W, np.maximum(net['w_rec'], 0) * sign),\n\
               np.array_equal(net['w_out_effective'], np.maximum(net['w_out'], 0) * net['readout_mask']))\n",
    );
    let fields: Vec<&str> = seen.split_whitespace().collect();
    assert!(fields[0].parse::<usize>().unwrap() > 0, "after training w_rec (W̃) has mixed signs in some column: {seen}");
    assert_eq!(fields[1..], ["True", "True", "True"], "w_rec_effective keeps each unit's sign and is f(W̃)·D: {seen}");
    assert!(numpy_forward_error(dir.path(), "dale.npz") < 1e-4);
    ok(modulab(&["import", "--npz", path(&at("dale.npz")), "--out", path(&at("dale-back"))]));
    assert_eq!(eval(&at("dale-back")), eval(&at("dale")));

    // numpy code sets fdgo's gain to 1 − 3 on three inhibitory units whose drive is negative (and
    // G on excitatory units, where this network's gain pathway does not act), and saves the
    // parameters alone (no derived arrays, no probe trials): imported and exported again, the
    // units are silent in fdgo's probe trials, and numpy's clamped gain agrees
    let silenced = [19, 21, 23];
    python(
        dir.path(),
        &format!(
            "import numpy as np\nnet = np.load('dale.npz')\nderived = ('w_rec_effective', 'w_out_effective', 'cell_sign', 'readout_mask')\n\
             arrays = {{k: net[k] for k in net.files if not k.startswith('probe/') and k not in derived}}\n\
             arrays['ctx_gain'][0, {silenced:?}] = -3.0\narrays['ctx_gain'][0, :4] = -3.0\narrays['b_rec'][{silenced:?}] = -1.0\n\
             np.savez('gain.npz', **arrays)\n"
        ),
    );
    ok(modulab(&["import", "--npz", path(&at("gain.npz")), "--out", path(&at("gain"))]));
    ok(modulab(&["export", "--run", path(&at("gain")), "--out", path(&at("gain-out.npz")), "--trajectories"]));
    let silent = python(
        dir.path(),
        &format!(
            "import numpy as np\nnet = np.load('gain-out.npz')\nprint(bool((net['probe/fdgo/rates'][:, :, {silenced:?}] == 0).all()))\n"
        ),
    );
    assert_eq!(silent.trim(), "True", "the clamped units are silent in modulab's probe trials");
    assert!(numpy_forward_error(dir.path(), "gain-out.npz") < 1e-4);

    // per-unit time constants, drawn and trained: each τ_i is exported, and used by numpy
    train_with(&at("tau"), "60", &["model.tau_distribution=log_uniform", "model.tau_trainable=true", r#"model.pathways=["bias","gain"]"#]);
    let said = ok(modulab(&["export", "--run", path(&at("tau")), "--out", path(&at("tau.npz")), "--trajectories"]));
    assert!(said.contains("what the network runs (tau_ms)"), "{said}");
    let taus = python(
        dir.path(),
        "import numpy as np\nnet = np.load('tau.npz')\ntau = net['tau_ms']\n\
         print(bool(np.allclose(tau, np.exp(net['log_tau']), rtol=1e-6)), bool((tau >= 40 * (1 - 1e-5)).all() and (tau <= 400 * (1 + 1e-5)).all()), float(tau.max() / tau.min()))\n",
    );
    let fields: Vec<&str> = taus.split_whitespace().collect();
    assert_eq!(fields[..2], ["True", "True"], "{taus}");
    assert!(fields[2].parse::<f64>().unwrap() > 2.0, "the units have their own time constants: {taus}");
    assert!(numpy_forward_error(dir.path(), "tau.npz") < 1e-4);
    ok(modulab(&["export", "--run", path(&at("tau")), "--out", path(&at("tau.safetensors"))]));
    ok(modulab(&["import", "--safetensors", path(&at("tau.safetensors")), "--out", path(&at("tau-back"))]));
    assert_eq!(eval(&at("tau-back")), eval(&at("tau")));
}

#[test]
fn a_network_saved_by_numpy_is_imported() {
    if python_with_numpy().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    train(&run);
    ok(modulab(&["export", "--run", path(&run), "--out", path(&dir.path().join("net.npz"))]));
    // as a PyTorch user would save one: float64, some arrays transposed views (Fortran order),
    // compressed, no configuration of ours
    python(
        dir.path(),
        "import numpy as np\nnet = np.load('net.npz')\narrays = {k: net[k].astype(np.float64) for k in net.files if k not in ('config_json', 'schema_version', 'step')}\n\
         arrays['w_rec'] = np.asfortranarray(arrays['w_rec'])\narrays['w_in'] = arrays['w_in'].T.copy().T\nnp.savez_compressed('torch.npz', **arrays)\n",
    );
    let foreign = dir.path().join("torch.npz");
    let back = dir.path().join("back");
    let o = modulab(&["import", "--npz", path(&foreign), "--out", path(&back)]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("carries no configuration: give --config FILE"));
    let config = dir.path().join("net.toml");
    std::fs::copy(run.join("config.toml"), &config).unwrap();
    ok(modulab(&["import", "--npz", path(&foreign), "--config", path(&config), "--step", "150", "--out", path(&back)]));
    let (imported, original) = (checkpoint::load_run_dir(&back).unwrap(), checkpoint::load_run_dir(&run).unwrap());
    assert_eq!(imported.params, original.params);
    assert_eq!(imported.step, 150);
    assert_eq!(eval(&back), eval(&run));
}
