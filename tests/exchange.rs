//! Networks to and from Python: `modulab export` / `import` through the real binary, and the
//! README's and docs/EXCHANGE.md's Python run on the files (where python3 with numpy exists).

use std::path::Path;
use std::process::{Command, Output};

use modulab::train::checkpoint;

fn modulab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modulab")).args(args).output().expect("the binary runs")
}

fn ok(o: Output) -> String {
    assert!(o.status.success(), "failed: {}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every pathway, so every kind of array is exchanged; a few hundred steps, so the network is
/// partly trained and its scores are not all 0 or 1.
fn train(out: &Path) {
    ok(modulab(&[
        "train",
        "--preset",
        "quick",
        "--seed",
        "2",
        "--steps",
        "150",
        "--quiet",
        "--set",
        "model.n_units=24",
        "--set",
        r#"model.pathways=["bias","gain","synaptic"]"#,
        "--set",
        "model.synaptic_rank=2",
        "--out",
        path(out),
    ]));
}

fn eval(run: &Path) -> String {
    ok(modulab(&["eval", "--run", path(run), "--trials", "48", "--json"]))
}

fn python_with_numpy() -> bool {
    let found = Command::new("python3").args(["-c", "import numpy"]).output().is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("python3 with numpy not found: the Python half of this test is skipped");
    }
    found
}

fn python(dir: &Path, code: &str) -> String {
    let o = Command::new("python3").arg("-c").arg(code).current_dir(dir).output().expect("python3 runs");
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
    if !python_with_numpy() {
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
    let forward = python_block("docs/EXCHANGE.md", "<!-- python-forward-example -->");
    let check = "\nnet = np.load('net.npz')\nworst = 0.0\nfor k, task in enumerate(json.loads(str(net['config_json']))['train']['tasks']):\n    \
                 rates, outputs = forward(net, k, net[f'probe/{task}/inputs'].astype(np.float64))\n    \
                 worst = max(worst, np.abs(rates - net[f'probe/{task}/rates']).max(), np.abs(outputs - net[f'probe/{task}/outputs']).max())\n\
                 print(worst)\n";
    let worst: f64 = python(dir.path(), &(forward + check)).trim().parse().unwrap();
    assert!(worst < 1e-4, "numpy's forward pass differs from modulab's by {worst}");
}

#[test]
fn a_network_saved_by_numpy_is_imported() {
    if !python_with_numpy() {
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
