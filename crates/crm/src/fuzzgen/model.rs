//! The random cluster a fuzz case describes, drawn before any XML is
//! written so that constraints and histories can refer to what exists.

use super::Rng;

/// How a primitive's agent behaves: `Stateful` can be promoted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agent {
    Dummy,
    Stateful,
}

impl Agent {
    pub fn name(self) -> &'static str {
        match self {
            Agent::Dummy => "Dummy",
            Agent::Stateful => "Stateful",
        }
    }
}

/// What the history of one primitive says about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hist {
    /// No history at all (the node was never probed).
    None,
    /// Probed, not running.
    Stopped,
    Started,
    Promoted,
    /// Running, then its recurring monitor failed.
    MonitorFailed,
    /// Its start failed (fail count INFINITY, as start-failure-is-fatal says).
    StartFailed,
}

/// A primitive and the per-node history of it (indexed like the nodes).
#[derive(Debug, Clone)]
pub struct Prim {
    pub id: String,
    pub agent: Agent,
    pub allow_migrate: bool,
    /// `on-fail` of the recurring monitor, when not the default.
    pub on_fail: Option<&'static str>,
    pub migration_threshold: Option<u32>,
    pub utilization: Option<u32>,
    pub unmanaged: bool,
    pub target_role: Option<&'static str>,
    pub hist: Vec<Hist>,
    /// Fail count per node for the failed operation, if any.
    pub fail_count: Vec<Option<u32>>,
}

/// A configured resource at the top level.
#[derive(Debug, Clone)]
pub enum Top {
    Prim(Prim),
    Group { id: String, members: Vec<Prim> },
    Clone(CloneRsc),
}

#[derive(Debug, Clone)]
pub struct CloneRsc {
    pub id: String,
    pub promotable: bool,
    pub clone_max: Option<u32>,
    pub promoted_max: Option<u32>,
    pub interleave: bool,
    pub notify: bool,
    /// Either one primitive or a group of them.
    pub group_id: Option<String>,
    pub members: Vec<Prim>,
}

impl Top {
    pub fn id(&self) -> &str {
        match self {
            Top::Prim(p) => &p.id,
            Top::Group { id, .. } => id,
            Top::Clone(c) => &c.id,
        }
    }

    pub fn prims(&self) -> &[Prim] {
        match self {
            Top::Prim(p) => std::slice::from_ref(p),
            Top::Group { members, .. } => members,
            Top::Clone(c) => &c.members,
        }
    }

    pub fn is_promotable(&self) -> bool {
        matches!(self, Top::Clone(c) if c.promotable)
    }
}

/// How a node is, in configuration and membership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Online,
    /// Cleanly down.
    Offline,
    /// Lost while expected up: unclean, fenced if stonith is enabled.
    Lost,
}

#[derive(Debug, Clone)]
pub struct Node {
    pub state: NodeState,
    pub standby: bool,
    pub maintenance: bool,
    pub capacity: Option<u32>,
    /// Promotion score per promotable primitive (`master-ID`).
    pub promotion: Vec<(String, u32)>,
}

/// A whole case.
#[derive(Debug, Clone)]
pub struct Model {
    /// The CIB's `crm_feature_set` (it decides which fail-count names count).
    pub feature_set: Option<&'static str>,
    pub nodes: Vec<Node>,
    pub stonith: bool,
    pub have_quorum: bool,
    pub no_quorum_policy: &'static str,
    pub stickiness: u32,
    pub placement: Option<&'static str>,
    pub resources: Vec<Top>,
}

impl Model {
    pub fn draw(rng: &mut Rng) -> Model {
        let n_nodes = 2 + rng.below(3);
        let stonith = rng.chance(50);
        let have_quorum = rng.chance(85);
        let no_quorum_policy = ["stop", "ignore", "freeze"][rng.below(3)];
        let stickiness = [0, 0, 100, 1][rng.below(4)];
        let utilization = rng.chance(15);
        let placement = utilization.then(|| ["utilization", "balanced", "minimal"][rng.below(3)]);
        let nodes: Vec<Node> = (0..n_nodes)
            .map(|_| Node {
                state: match rng.below(10) {
                    0 => NodeState::Offline,
                    1 => NodeState::Lost,
                    _ => NodeState::Online,
                },
                standby: rng.chance(10),
                maintenance: rng.chance(4),
                capacity: utilization.then(|| 1 + rng.below(4) as u32),
                promotion: Vec::new(),
            })
            .collect();
        let mut m = Model {
            feature_set: [Some("3.16.1"), Some("3.16.1"), Some("3.0.10"), None][rng.below(4)],
            nodes,
            stonith,
            have_quorum,
            no_quorum_policy,
            stickiness,
            placement,
            resources: Vec::new(),
        };
        let n_top = 1 + rng.below(4);
        let mut next = 1;
        for t in 1..=n_top {
            let top = match rng.below(10) {
                0..=3 => Top::Prim(m.prim(rng, &mut next, Agent::Dummy, Shape::Single)),
                4 | 5 => {
                    let k = 2 + rng.below(2);
                    let members = m.members(rng, &mut next, k, Agent::Dummy, Shape::Group);
                    Top::Group {
                        id: format!("grp{t}"),
                        members,
                    }
                }
                _ => {
                    let promotable = rng.chance(45);
                    let agent = if promotable { Agent::Stateful } else { Agent::Dummy };
                    let grouped = !promotable && rng.chance(25);
                    let shape = if promotable { Shape::Promotable } else { Shape::Clone };
                    let members = m.members(rng, &mut next, if grouped { 2 } else { 1 }, agent, shape);
                    if promotable {
                        for node in m.nodes.iter_mut() {
                            if rng.chance(60) {
                                node.promotion.push((members[0].id.clone(), [5, 10, 100][rng.below(3)]));
                            }
                        }
                    }
                    Top::Clone(CloneRsc {
                        id: format!("{}{t}", if promotable { "ms" } else { "cln" }),
                        promotable,
                        clone_max: [None, None, None, Some(0), Some(1), Some(2)][rng.below(6)],
                        promoted_max: if promotable && rng.chance(30) { Some(2) } else { None },
                        interleave: rng.chance(50),
                        notify: rng.chance(20),
                        group_id: grouped.then(|| format!("cgrp{t}")),
                        members,
                    })
                }
            };
            m.resources.push(top);
        }
        m
    }

    fn members(&self, rng: &mut Rng, next: &mut usize, k: usize, agent: Agent, shape: Shape) -> Vec<Prim> {
        // Members of a group share where they run: draw the first, then
        // let the others follow it (or be stopped behind it).
        let first = self.prim(rng, next, agent, shape);
        let mut out = vec![first];
        for _ in 1..k {
            let mut p = self.prim(rng, next, agent, shape);
            for (i, h) in p.hist.iter_mut().enumerate() {
                let lead = out[out.len() - 1].hist[i];
                *h = match lead {
                    Hist::Started | Hist::Promoted | Hist::MonitorFailed if rng.chance(85) => {
                        if rng.chance(8) {
                            Hist::MonitorFailed
                        } else {
                            Hist::Started
                        }
                    }
                    Hist::None => Hist::None,
                    _ => Hist::Stopped,
                };
                p.fail_count[i] = (*h == Hist::MonitorFailed).then(|| 1 + rng.below(3) as u32);
            }
            out.push(p);
        }
        out
    }

    fn prim(&self, rng: &mut Rng, next: &mut usize, agent: Agent, shape: Shape) -> Prim {
        let id = format!("rsc{next}");
        *next += 1;
        let n = self.nodes.len();
        let multi = matches!(shape, Shape::Clone | Shape::Promotable);
        let single_node = (!multi && rng.chance(60)).then(|| rng.below(n));
        let mut promoted_left = 1 + usize::from(rng.chance(15));
        let hist: Vec<Hist> = (0..n)
            .map(|i| {
                let running = if multi { rng.chance(55) } else { single_node == Some(i) };
                if running {
                    if rng.chance(8) {
                        Hist::StartFailed
                    } else if rng.chance(12) {
                        Hist::MonitorFailed
                    } else if shape == Shape::Promotable && promoted_left > 0 && rng.chance(40) {
                        promoted_left -= 1;
                        Hist::Promoted
                    } else {
                        Hist::Started
                    }
                } else if rng.chance(10) {
                    Hist::None
                } else {
                    Hist::Stopped
                }
            })
            .collect();
        let fail_count = hist
            .iter()
            .map(|h| match h {
                Hist::MonitorFailed => Some(1 + rng.below(3) as u32),
                Hist::StartFailed => Some(u32::MAX),
                _ => None,
            })
            .collect();
        let on_fail = if rng.chance(30) {
            let mut choices = vec!["restart", "block", "stop", "ignore", "standby"];
            if self.stonith {
                choices.push("fence");
            }
            if shape == Shape::Promotable {
                choices.push("demote");
            }
            Some(choices[rng.below(choices.len())])
        } else {
            None
        };
        Prim {
            id,
            agent,
            allow_migrate: shape == Shape::Single && rng.chance(35),
            on_fail,
            migration_threshold: [None, None, Some(1), Some(3)][rng.below(4)],
            utilization: self.placement.is_some().then(|| 1 + rng.below(2) as u32),
            unmanaged: rng.chance(4),
            target_role: match rng.below(25) {
                0 => Some("Stopped"),
                1 if shape == Shape::Promotable => Some("Unpromoted"),
                _ => None,
            },
            hist,
            fail_count,
        }
    }
}

/// Where a primitive sits, which decides its history's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Single,
    Group,
    Clone,
    Promotable,
}
