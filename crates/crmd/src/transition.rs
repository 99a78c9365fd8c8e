//! Executing one transition graph (Pacemaker's `pcmk__execute_graph`): which
//! actions may start now, which are running, which are confirmed, and when the
//! transition is over. Pure bookkeeping; the controller sends what this says to
//! start and reports back what completed.
//!
//! Rules, as Pacemaker's: a synapse fires once every input is confirmed; a
//! pseudo-event is confirmed as soon as it fires; at most `batch-limit` real
//! actions run at once, higher synapse priority first; a failed action aborts the
//! transition — nothing new starts, what runs is waited for — and a synapse whose
//! input failed never fires. The transition is complete when nothing runs and
//! nothing more can fire.

use std::collections::BTreeMap;

use scheduler::graph::{ActionKind, GraphAction, TransitionGraph};
use scheduler::ActionId;
use totem::Instant;

/// Where one synapse stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynapseState {
    Waiting,
    Running { deadline: Instant },
    Confirmed,
    Failed,
}

/// `batch-limit` when the option says 0 ("as many as the load allows").
pub const DEFAULT_BATCH_LIMIT: usize = 30;

/// A transition in progress.
#[derive(Debug, Clone)]
pub struct Transition {
    id: u32,
    graph: TransitionGraph,
    states: Vec<SynapseState>,
    by_action: BTreeMap<ActionId, usize>,
    batch_limit: usize,
    cluster_delay_ms: u64,
    aborted: bool,
    failures: usize,
}

/// Milliseconds of a Pacemaker interval specification ("60s", "2min", "500ms", "10").
pub fn interval_ms(spec: &str) -> Option<u64> {
    cib::parse_interval_ms(spec)
}

impl Transition {
    pub fn new(id: u32, graph: TransitionGraph) -> Transition {
        let states = vec![SynapseState::Waiting; graph.synapses.len()];
        let by_action = graph
            .synapses
            .iter()
            .enumerate()
            .map(|(i, s)| (s.action.id, i))
            .collect();
        let batch_limit = match graph.header.batch_limit.trim().parse::<i64>() {
            Ok(n) if n > 0 => n as usize,
            _ => DEFAULT_BATCH_LIMIT,
        };
        let cluster_delay_ms = interval_ms(&graph.header.cluster_delay).unwrap_or(60_000);
        Transition {
            id,
            graph,
            states,
            by_action,
            batch_limit,
            cluster_delay_ms,
            aborted: false,
            failures: 0,
        }
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn aborted(&self) -> bool {
        self.aborted
    }

    pub fn failures(&self) -> usize {
        self.failures
    }

    /// Stops starting actions; those running are still waited for.
    pub fn abort(&mut self) {
        self.aborted = true;
    }

    pub fn state(&self, action: ActionId) -> Option<SynapseState> {
        self.by_action.get(&action).map(|&i| self.states[i])
    }

    pub fn action(&self, action: ActionId) -> Option<&GraphAction> {
        self.by_action.get(&action).map(|&i| &self.graph.synapses[i].action)
    }

    fn running(&self) -> usize {
        self.states
            .iter()
            .filter(|s| matches!(s, SynapseState::Running { .. }))
            .count()
    }

    /// Every input ran. An input the graph holds no synapse for (an unmanaged
    /// resource's start) never does, as with Pacemaker's controller.
    fn inputs_confirmed(&self, i: usize) -> bool {
        self.graph.synapses[i].inputs.iter().all(|a| match self.state(*a) {
            Some(s) => s == SynapseState::Confirmed,
            None => !self.graph.absent_inputs.iter().any(|x| x.id == *a),
        })
    }

    /// The actions to start now (marked running until `now` + their timeout +
    /// `cluster-delay`); pseudo-events are confirmed on the way.
    pub fn fire(&mut self, now: Instant) -> Vec<GraphAction> {
        let mut started = Vec::new();
        if self.aborted {
            return started;
        }
        loop {
            let mut ready: Vec<usize> = (0..self.states.len())
                .filter(|&i| self.states[i] == SynapseState::Waiting && self.inputs_confirmed(i))
                .collect();
            if ready.is_empty() {
                break;
            }
            // Higher priority first, then graph order.
            ready.sort_by_key(|&i| (std::cmp::Reverse(self.graph.synapses[i].priority), i));
            let mut progressed = false;
            for i in ready {
                let action = &self.graph.synapses[i].action;
                if action.kind == ActionKind::PseudoEvent {
                    self.states[i] = SynapseState::Confirmed;
                    progressed = true;
                    continue;
                }
                if self.running() >= self.batch_limit {
                    continue;
                }
                let wait = action.timeout_ms.unwrap_or(20_000) + self.cluster_delay_ms;
                self.states[i] = SynapseState::Running {
                    deadline: now + std::time::Duration::from_millis(wait),
                };
                started.push(action.clone());
            }
            if !progressed {
                break;
            }
        }
        started
    }

    /// A running action's outcome; `false` if it was not running (a duplicate or
    /// a late result). A failure aborts the transition.
    pub fn complete(&mut self, action: ActionId, ok: bool) -> bool {
        let Some(&i) = self.by_action.get(&action) else {
            return false;
        };
        if !matches!(self.states[i], SynapseState::Running { .. }) {
            return false;
        }
        self.states[i] = if ok {
            SynapseState::Confirmed
        } else {
            self.failures += 1;
            self.aborted = true;
            SynapseState::Failed
        };
        true
    }

    /// Running actions on `node` (by its id), fencing excepted: what a node that left
    /// will never report.
    pub fn running_on(&self, node: crate::ids::NodeId) -> Vec<ActionId> {
        let id = node.0.to_string();
        self.graph
            .synapses
            .iter()
            .zip(&self.states)
            .filter(|(syn, s)| {
                matches!(s, SynapseState::Running { .. })
                    && syn.action.task != scheduler::Task::Fence
                    && syn.action.on_node_uuid.as_deref() == Some(id.as_str())
            })
            .map(|(syn, _)| syn.action.id)
            .collect()
    }

    /// Running actions whose time is up: failed (Pacemaker's action timer).
    pub fn expire(&mut self, now: Instant) -> Vec<ActionId> {
        let late: Vec<ActionId> = self
            .graph
            .synapses
            .iter()
            .zip(&self.states)
            .filter(|(_, s)| matches!(s, SynapseState::Running { deadline } if *deadline <= now))
            .map(|(syn, _)| syn.action.id)
            .collect();
        for &a in &late {
            self.complete(a, false);
        }
        late
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.states
            .iter()
            .filter_map(|s| match s {
                SynapseState::Running { deadline } => Some(*deadline),
                _ => None,
            })
            .min()
    }

    /// Nothing runs and nothing more can fire.
    pub fn complete_now(&self) -> bool {
        if self.running() > 0 {
            return false;
        }
        self.aborted
            || !(0..self.states.len()).any(|i| self.states[i] == SynapseState::Waiting && self.inputs_confirmed(i))
    }

    /// Every synapse confirmed: the cluster reached the state the graph aimed at.
    pub fn succeeded(&self) -> bool {
        self.states.iter().all(|s| *s == SynapseState::Confirmed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler::graph::{GraphHeader, Synapse};
    use scheduler::Task;

    fn action(id: usize, kind: ActionKind) -> GraphAction {
        GraphAction {
            id: ActionId(id),
            kind,
            task: Task::Start,
            operation_key: format!("r{id}_start_0"),
            internal_key: None,
            on_node: Some("n1".into()),
            on_node_uuid: Some("1".into()),
            rsc: Some(format!("r{id}")),
            interval_ms: 0,
            timeout_ms: Some(1000),
            agent: None,
            attributes: BTreeMap::new(),
            downed: Vec::new(),
        }
    }

    fn graph(batch_limit: &str, synapses: Vec<(GraphAction, Vec<usize>)>) -> TransitionGraph {
        TransitionGraph {
            header: GraphHeader {
                cluster_delay: "1s".into(),
                stonith_timeout: "60s".into(),
                failed_start_offset: "INFINITY",
                batch_limit: batch_limit.into(),
                migration_limit: None,
                recheck_by: None,
                transition_id: 1,
            },
            synapses: synapses
                .into_iter()
                .enumerate()
                .map(|(i, (action, inputs))| Synapse {
                    id: i,
                    priority: 0,
                    action,
                    inputs: inputs.into_iter().map(ActionId).collect(),
                })
                .collect(),
            absent_inputs: Vec::new(),
        }
    }

    fn ids(v: &[GraphAction]) -> Vec<usize> {
        v.iter().map(|a| a.id.0).collect()
    }

    #[test]
    fn order_pseudo_events_and_completion() {
        // 1 -> pseudo 2 -> 3; 4 independent.
        let g = graph(
            "0",
            vec![
                (action(1, ActionKind::RscOp), vec![]),
                (action(2, ActionKind::PseudoEvent), vec![1]),
                (action(3, ActionKind::RscOp), vec![2]),
                (action(4, ActionKind::RscOp), vec![]),
            ],
        );
        let mut t = Transition::new(7, g);
        let now = Instant::ZERO;
        assert_eq!(ids(&t.fire(now)), [1, 4]);
        assert!(t.fire(now).is_empty());
        assert!(t.complete(ActionId(1), true));
        assert!(
            !t.complete(ActionId(1), true),
            "a duplicate result is not applied twice"
        );
        assert_eq!(ids(&t.fire(now)), [3], "the pseudo-event is confirmed on the way");
        assert!(!t.complete_now());
        t.complete(ActionId(3), true);
        t.complete(ActionId(4), true);
        assert!(t.complete_now() && t.succeeded());
    }

    #[test]
    fn a_synapse_waiting_for_an_action_left_out_of_the_graph_never_fires() {
        // 2 waits for 9, an unmanaged resource's required start that the
        // graph names but holds no synapse for; 3 waits for an unknown id.
        let mut g = graph(
            "0",
            vec![
                (action(1, ActionKind::RscOp), vec![]),
                (action(2, ActionKind::PseudoEvent), vec![1, 9]),
                (action(3, ActionKind::RscOp), vec![1, 8]),
            ],
        );
        g.absent_inputs.push(action(9, ActionKind::RscOp));
        let mut t = Transition::new(1, g);
        let now = Instant::ZERO;
        assert_eq!(ids(&t.fire(now)), [1]);
        t.complete(ActionId(1), true);
        assert_eq!(ids(&t.fire(now)), [3], "2 stays waiting");
        t.complete(ActionId(3), true);
        assert!(t.complete_now(), "nothing more can fire: the transition is over");
    }

    #[test]
    fn failure_aborts_and_dependants_never_fire() {
        let g = graph(
            "0",
            vec![
                (action(1, ActionKind::RscOp), vec![]),
                (action(2, ActionKind::RscOp), vec![]),
                (action(3, ActionKind::RscOp), vec![1]),
            ],
        );
        let mut t = Transition::new(1, g);
        let now = Instant::ZERO;
        t.fire(now);
        t.complete(ActionId(1), false);
        assert!(t.aborted());
        assert!(t.fire(now).is_empty());
        assert!(!t.complete_now(), "2 still runs");
        t.complete(ActionId(2), true);
        assert!(t.complete_now() && !t.succeeded());
    }

    #[test]
    fn batch_limit_and_timeouts() {
        let g = graph("2", (1..=3).map(|i| (action(i, ActionKind::RscOp), vec![])).collect());
        let mut t = Transition::new(1, g);
        let now = Instant::ZERO;
        assert_eq!(ids(&t.fire(now)), [1, 2]);
        // Timeout 1000 ms + cluster-delay 1 s.
        assert_eq!(t.next_deadline(), Some(now + std::time::Duration::from_millis(2000)));
        assert!(t.expire(now + std::time::Duration::from_millis(1999)).is_empty());
        assert_eq!(
            t.expire(now + std::time::Duration::from_millis(2000)),
            [ActionId(1), ActionId(2)]
        );
        assert!(t.aborted() && t.fire(now).is_empty());
        assert!(t.complete_now());
    }
}
