use super::*;
use crate::analysis::AmbiguityKind;
use crate::model::Pathway;

#[test]
fn the_plan_pairs_every_set_with_every_seed() {
    let plan = Plan::new(Scale::Quick);
    let units = plan.units();
    let sizes = 1 + plan.packing_sizes.len();
    assert_eq!(units.len(), 7 * 5 * sizes);
    // seed-major: the first runs are one seed of every set at every size, the full runs first
    assert!(units[..7 * sizes].iter().all(|u| u.seed == plan.seeds[0]));
    assert_eq!(units[3].name(), "synaptic-seed0");
    assert_eq!(units[8].name(), format!("bias-n{}-seed0", plan.packing_sizes[0]));
    let config = plan.config_for(&units[4]);
    assert_eq!(Pathway::set_label(&config.model.pathways), "bias+synaptic");
    assert!(config.validate().is_ok());
    assert_eq!((config.train.tasks.len(), config.model.n_units), (8, 64));
    let packing = plan.config_for(&units[8]);
    assert_eq!((packing.model.n_units, packing.train.steps), (plan.packing_sizes[0], config.train.steps));
    for scale in [Scale::Tiny, Scale::Quick, Scale::Standard, Scale::Full] {
        assert!(scale.base().validate().is_ok(), "{scale:?}");
        for kind in AmbiguityKind::ALL {
            assert_eq!(scale.levels(kind)[0], kind.clean_level(), "{scale:?} {kind:?}: the clear cue first");
        }
    }
}

#[test]
fn switch_rows_read_back() {
    let row = SwitchRow {
        run: "bias+synaptic-seed1".into(),
        pathways: "bias+synaptic".into(),
        seed: 1,
        from: "fdgo".into(),
        to: "fdanti".into(),
        pathway: Pathway::Synaptic,
        tau_ms: 50.0,
        perf: 0.75,
        transient: 0.125,
    };
    assert_eq!(parse_switching_csv(&switching_csv(std::slice::from_ref(&row)), "s.csv").unwrap(), vec![row]);
    assert_eq!(parse_switching_csv(&switching_csv(&[]), "s.csv").unwrap(), vec![]);
}

#[test]
fn dynamics_rows_read_back() {
    let row = DynamicsRow {
        run: "bias-seed0".into(),
        pathways: "bias".into(),
        seed: 0,
        participation_ratio: 3.5,
        subspace_angle_deg: 41.25,
        spectral_radius: 1.125,
        spectral_spread: 0.0,
        jacobian_radius: 0.875,
        jacobian_spread: 0.0625,
        fixed_points: 2.5,
        slow_points: 0.5,
        fixed_points_2x: 3.0,
        slow_points_2x: 1.0,
        stable_fraction: 0.75,
    };
    assert_eq!(parse_dynamics_csv(&dynamics_csv(std::slice::from_ref(&row)), "d.csv").unwrap(), vec![row]);
    assert!(parse_dynamics_csv("x\n", "d.csv").is_err());
    let training = TrainingRow { run: "bias-n8-seed2".into(), pathways: "bias".into(), seed: 2, size: 8, steps: 3500, plateau: true };
    assert_eq!(parse_training_csv(&training_csv(std::slice::from_ref(&training)), "t.csv").unwrap(), vec![training]);
}
