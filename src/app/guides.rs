//! The "What am I looking at?" text of each preset: what its network is, the biology behind it,
//! and what to look for. Shown under the Setup panel's preset picker.

/// The guide of the preset `name`; `None` for a custom configuration.
pub fn preset_guide(name: &str) -> Option<&'static str> {
    let text = match name {
        "quick" => {
            "A small network (64 units) learning four easy tasks at once: respond toward a stimulus, as soon as it \
             appears or after a delay, or away from it. The task is told to the network through a bias: each task \
             shifts every neuron's excitability by its own learned amount (Yang et al.'s rule input).\n\nPress Train: \
             within a minute every bar in the Training panel passes 0.9. Then lesion the bias pathway and watch \
             which tasks break: without context the network cannot tell 'go' from 'anti'."
        }
        "yang20" => {
            "Yang et al.'s full battery: 20 tasks (go, anti, decision making, delayed decisions, matching) learned by \
             one 256-unit network told the task through a bias. On a 2-core laptop the go, anti, reaction, delay and \
             matching tasks pass 0.9 within a few minutes and stay there after about 6; the decision tasks plateau \
             lower (0.85–0.99 after the whole 13-minute run), at the limit their weak coherences allow.\n\nLook at the Dynamics panel's task variance once trained: clusters of units \
             specialise in families of tasks, as Yang et al. found."
        }
        "bias" | "gain" | "synaptic" | "bias-synaptic" | "gain-synaptic" | "none" => {
            "One of the pathway comparison presets: the same eight tasks and 128 units, with the context reaching the \
             network only through the pathways in the name. Bias and gain are neuronal excitability (a shift or a \
             slope of each neuron's response); synaptic is a low-rank change of the recurrent connections per task. \
             'none' has no context at all and cannot separate the tasks.\n\nTrain two of them and compare them in \
             the Ambiguity panel: make the context noisy or mixed and see which pathway set degrades gracefully."
        }
        "dale" => {
            "The biology: a real neuron is excitatory or inhibitory, and all its synapses share that sign (Dale's \
             principle). Here 80 % of the units are excitatory and 20 % inhibitory, every unit keeps its sign through \
             training, and the outputs are read from excitatory cells only (Song, Yang & Wang 2016). Context arrives \
             through a bias on every cell.\n\nWhat to look for: whether the eight tasks are learned as fast as in the \
             unconstrained 'bias' preset (run both and compare the curves). In the Trajectories panel the hidden \
             units are grouped, excitatory (E, red lines) then inhibitory (I, blue lines): compare how the two \
             populations respond to the stimuli."
        }
        "dale-gain-inhibitory" => {
            "The biology: neuromodulators act on particular cell types. Here the task context changes only the gain \
             (the input-output slope) of the inhibitory cells, as when a modulator targets interneurons; excitatory \
             cells are untouched (Rodriguez-Garcia, Mei & Ramaswamy 2024). The network obeys Dale's law (80 % \
             excitatory).\n\nWhat to look for: tasks can be told apart through the inhibitory cells alone, which \
             gate the excitatory population. Compare with 'dale' (bias on every cell) and lesion the gain pathway to \
             see how much of the task identity the inhibitory gain carries."
        }
        "dale-synaptic-ee" => {
            "The biology: neuromodulators can also change synaptic strength, and often only at some synapses. Here \
             the context changes only the excitatory-to-excitatory connections, by a rank-1 change per task; all \
             other synapses and every cell's excitability are fixed. The network obeys Dale's law (80 % \
             excitatory).\n\nWhat to look for: a change confined to E→E synapses is enough to switch tasks. In the \
             Dynamics panel, compare the connectivity spectra under different task contexts: the task moves the \
             eigenvalues of the excitatory loop."
        }
        "hetero-tau" => {
            "The biology: neurons integrate their inputs over very different time scales, from tens to hundreds of \
             milliseconds. Here every unit has its own time constant τ_i, drawn log-uniform between 40 and 400 ms \
             and tuned by training (Perez-Nieves et al. 2021 found such heterogeneity helps networks learn tasks \
             with several time scales). Context arrives through a bias.\n\nWhat to look for: the τ histogram in the \
             Setup panel, before and after training; in the Trajectories panel, order the units by τ and see \
             whether the slow units are the ones that hold the stimulus through delays. Compare the learning curve with the \
             'bias' preset, which has one τ of 100 ms for all."
        }
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_has_a_guide() {
        for (name, _) in crate::config::PRESETS {
            assert!(preset_guide(name).is_some_and(|g| g.len() > 200), "{name} has no guide");
        }
        assert!(preset_guide("").is_none());
    }
}
