//! A deterministic test harness: N CRM processes in CPG partitions. Each partition has
//! one agreed message stream; a message is delivered to every member of its partition
//! at once, and a configuration change is delivered to every member at the same point
//! of the stream, after the messages still queued in the old view (virtual
//! synchrony; the messages of a crashed sender may instead be lost for everyone).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use totem::Instant;

use crate::attrd::CibRequest;
use crate::ids::{AttrName, AttrValue, NodeId, ProcessId};
use crate::membership::{dc_candidate, Confchg, NoQuorumPolicy};
use crate::messages::AttrChange;
use crate::node::{CrmNode, Output, UpdateError};

/// The CIB status transient attributes as a partition's writer wrote them.
pub type ModelCib = BTreeMap<NodeId, BTreeMap<AttrName, AttrValue>>;

pub struct Proc {
    pub node: CrmNode,
    pub up: bool,
    pub part: usize,
    generation: u32,
    /// Left the group cleanly: rejoins with the same process.
    left: bool,
}

#[derive(Default)]
pub struct Partition {
    pub members: BTreeSet<usize>,
    queue: VecDeque<(ProcessId, Vec<u8>)>,
    pub cib: ModelCib,
}

pub struct Cluster {
    pub procs: Vec<Proc>,
    pub parts: Vec<Partition>,
    pub now: Instant,
    policy: NoQuorumPolicy,
    /// Lose the queued messages of a crashing sender (both are allowed by EVS).
    pub lose_crashed: bool,
    pub writes: u64,
    /// Every CIB request, in order.
    pub log: Vec<CibRequest>,
    /// Quorum comes from votequorum, not through the CPG stream: when set, each
    /// process learns it only when [`Cluster::deliver_quorum`] says so.
    pub quorum_lag: bool,
    pending_quorum: BTreeMap<usize, bool>,
}

impl Cluster {
    /// `n` processes, none started.
    pub fn new(n: usize, policy: NoQuorumPolicy) -> Cluster {
        let procs = (0..n)
            .map(|i| Proc {
                node: CrmNode::new(pid_of(i, 0), policy),
                up: false,
                part: 0,
                generation: 0,
                left: false,
            })
            .collect();
        Cluster {
            procs,
            parts: Vec::new(),
            now: Instant::ZERO,
            policy,
            lose_crashed: false,
            writes: 0,
            log: Vec::new(),
            quorum_lag: false,
            pending_quorum: BTreeMap::new(),
        }
    }

    /// `n` processes started one by one into one partition, settled.
    pub fn started(n: usize, policy: NoQuorumPolicy) -> Cluster {
        let mut c = Cluster::new(n, policy);
        for i in 0..n {
            c.start(i);
        }
        c.settle();
        c
    }

    pub fn pid(&self, i: usize) -> ProcessId {
        self.procs[i].node.me()
    }

    pub fn node_id(i: usize) -> NodeId {
        NodeId(i as u32 + 1)
    }

    fn pids(&self, set: &BTreeSet<usize>) -> Vec<ProcessId> {
        set.iter().map(|i| self.pid(*i)).collect()
    }

    fn drain(&mut self, i: usize) {
        while let Some(out) = self.procs[i].node.poll_output() {
            let part = self.procs[i].part;
            if let Output::Multicast(bytes) = out {
                if self.procs[i].up {
                    let from = self.pid(i);
                    self.parts[part].queue.push_back((from, bytes));
                }
            }
            self.take_writes(i);
        }
        self.take_writes(i);
    }

    fn take_writes(&mut self, i: usize) {
        let part = self.procs[i].part;
        for req in std::mem::take(&mut self.procs[i].node.attr_writes) {
            assert!(self.procs[i].node.attrd().is_writer(), "only the writer writes");
            self.writes += 1;
            self.log.push(req.clone());
            apply(&mut self.parts[part].cib, req);
        }
    }

    /// Delivers the next message of partition `p`; false if none.
    pub fn deliver_one(&mut self, p: usize) -> bool {
        let Some((from, bytes)) = self.parts[p].queue.pop_front() else {
            return false;
        };
        let members: Vec<usize> = self.parts[p].members.iter().copied().collect();
        for i in members {
            let now = self.now;
            self.procs[i].node.on_deliver(now, from, &bytes).expect("delivery");
            self.drain(i);
        }
        true
    }

    fn flush(&mut self, p: usize, crashed: Option<ProcessId>) {
        if self.lose_crashed {
            if let Some(c) = crashed {
                self.parts[p].queue.retain(|(from, _)| *from != c);
            }
        }
        while self.deliver_one(p) {}
    }

    /// Gives partition `p`'s members a configuration change to `members`.
    fn confchg(&mut self, p: usize, left: &BTreeSet<usize>, joined: &BTreeSet<usize>) {
        let c = Confchg {
            members: self.pids(&self.parts[p].members),
            left: self.pids(left),
            joined: self.pids(joined),
        };
        let nodes = self.procs.len();
        let quorate = self.parts[p].members.len() * 2 > nodes;
        for i in self.parts[p].members.clone() {
            let now = self.now;
            self.procs[i].node.on_confchg(now, &c).expect("confchg");
            self.tell_quorum(i, quorate);
            self.procs[i].node.set_no_quorum_policy(self.policy);
            self.drain(i);
        }
    }

    /// Starts (or restarts, with a new pid) process `i` in the first partition.
    /// A process that left cleanly rejoins as the same process (same pid).
    pub fn start(&mut self, i: usize) {
        assert!(!self.procs[i].up);
        if self.procs[i].left {
            self.procs[i].left = false;
            self.procs[i].up = true;
        } else {
            let g = self.procs[i].generation + 1;
            self.procs[i] = Proc {
                node: CrmNode::new(pid_of(i, g), self.policy),
                up: true,
                part: 0,
                generation: g,
                left: false,
            };
        }
        let p = match self.parts.iter().position(|p| !p.members.is_empty()) {
            Some(p) => p,
            None => {
                self.parts.push(Partition::default());
                self.parts.len() - 1
            }
        };
        self.flush(p, None);
        self.procs[i].part = p;
        self.parts[p].members.insert(i);
        self.confchg(p, &BTreeSet::new(), &BTreeSet::from([i]));
        self.check_dc();
    }

    /// Process `i` dies.
    pub fn crash(&mut self, i: usize) {
        self.stop(i, false);
    }

    /// Process `i` leaves the group cleanly (`cpg_leave`): it gets the change too.
    pub fn leave(&mut self, i: usize) {
        self.stop(i, true);
    }

    fn stop(&mut self, i: usize, clean: bool) {
        assert!(self.procs[i].up);
        let p = self.procs[i].part;
        let me = self.pid(i);
        self.flush(p, (!clean).then_some(me));
        self.procs[i].up = false;
        self.pending_quorum.remove(&i);
        self.parts[p].members.remove(&i);
        let c = Confchg {
            members: self.pids(&self.parts[p].members),
            left: vec![me],
            joined: vec![],
        };
        if clean {
            self.procs[i].left = true;
            let now = self.now;
            self.procs[i].node.on_confchg(now, &c).expect("confchg");
            assert!(!self.procs[i].node.membership().is_member());
            assert_eq!(self.procs[i].node.dc(), None);
            assert!(
                self.procs[i].node.poll_output().is_none(),
                "a process that left has nothing to say"
            );
            assert_eq!(self.procs[i].node.attrd().values().count(), 0);
        }
        let quorate = self.parts[p].members.len() * 2 > self.procs.len();
        for j in self.parts[p].members.clone() {
            let now = self.now;
            self.procs[j].node.on_confchg(now, &c).expect("confchg");
            self.tell_quorum(j, quorate);
            self.drain(j);
        }
        self.check_dc();
    }

    /// Regroups the live processes into `groups` (disjoint, together all live
    /// processes). Each process sees a change from its old partition to its new one:
    /// those it loses have left, those it gains have joined.
    pub fn regroup(&mut self, groups: Vec<BTreeSet<usize>>) {
        for p in 0..self.parts.len() {
            self.flush(p, None);
        }
        let old: Vec<BTreeSet<usize>> = self
            .procs
            .iter()
            .map(|pr| {
                if pr.up {
                    self.parts[pr.part].members.clone()
                } else {
                    BTreeSet::new()
                }
            })
            .collect();
        let old_parts = std::mem::take(&mut self.parts);
        for (k, g) in groups.iter().enumerate() {
            let first = *g.first().expect("non-empty group");
            let cib = old_parts[self.procs[first].part].cib.clone();
            self.parts.push(Partition {
                members: g.clone(),
                queue: VecDeque::new(),
                cib,
            });
            for i in g {
                self.procs[*i].part = k;
            }
        }
        for g in &groups {
            let quorate = g.len() * 2 > self.procs.len();
            for i in g {
                let c = Confchg {
                    members: self.pids(g),
                    left: self.pids(&old[*i].difference(g).copied().collect()),
                    joined: self.pids(&g.difference(&old[*i]).copied().collect()),
                };
                let now = self.now;
                self.procs[*i].node.on_confchg(now, &c).expect("confchg");
                self.tell_quorum(*i, quorate);
                self.drain(*i);
            }
        }
        self.check_dc();
    }

    /// Splits the live processes of `side` off their partitions into a new one.
    pub fn split(&mut self, side: &BTreeSet<usize>) {
        let side: BTreeSet<usize> = side.iter().copied().filter(|i| self.procs[*i].up).collect();
        if side.is_empty() {
            return;
        }
        let mut groups: Vec<BTreeSet<usize>> = self
            .parts
            .iter()
            .map(|p| p.members.difference(&side).copied().collect::<BTreeSet<usize>>())
            .filter(|g| !g.is_empty())
            .collect();
        groups.push(side);
        self.regroup(groups);
    }

    /// Merges every partition into one.
    pub fn merge_all(&mut self) {
        if self.parts.iter().filter(|p| !p.members.is_empty()).count() < 2 {
            return;
        }
        let all: BTreeSet<usize> = (0..self.procs.len()).filter(|i| self.procs[*i].up).collect();
        self.regroup(vec![all]);
    }

    pub fn update(&mut self, i: usize, changes: Vec<AttrChange>) -> Result<(), UpdateError> {
        let r = self.procs[i].node.update_attributes(changes);
        self.drain(i);
        r
    }

    pub fn advance(&mut self, d: Duration) {
        self.now = self.now + d;
        for i in 0..self.procs.len() {
            if !self.procs[i].up {
                continue;
            }
            if self.procs[i].node.next_deadline().is_some_and(|at| at <= self.now) {
                let now = self.now;
                self.procs[i].node.on_timer(now);
            }
            self.drain(i);
        }
    }

    /// Delivers everything, lets every dampening delay pass, delivers again.
    fn tell_quorum(&mut self, i: usize, quorate: bool) {
        if self.quorum_lag {
            self.pending_quorum.insert(i, quorate);
        } else {
            let now = self.now;
            self.procs[i].node.on_quorum(now, quorate);
        }
    }

    /// Tells the `k`-th (modulo) process still waiting for its quorum verdict.
    pub fn deliver_quorum(&mut self, k: usize) {
        let Some(i) = self
            .pending_quorum
            .keys()
            .nth(k % self.pending_quorum.len().max(1))
            .copied()
        else {
            return;
        };
        let quorate = self.pending_quorum.remove(&i).expect("pending");
        if self.procs[i].up {
            let now = self.now;
            self.procs[i].node.on_quorum(now, quorate);
            self.drain(i);
        }
        self.check_dc();
    }

    pub fn settle(&mut self) {
        while !self.pending_quorum.is_empty() {
            self.deliver_quorum(0);
        }
        for _ in 0..3 {
            for p in 0..self.parts.len() {
                while self.deliver_one(p) {}
            }
            self.advance(crate::messages::DAMPEN_MAX + Duration::from_secs(1));
        }
    }

    /// Every member of a partition sees the same DC, a member of the partition, or
    /// none when the partition may not have one; while some members still wait for
    /// their quorum verdict, those that see a DC see the same one, and there is never
    /// more than one writer.
    pub fn check_dc(&self) {
        for part in &self.parts {
            let Some(first) = part.members.first() else { continue };
            if part.members.iter().any(|i| self.pending_quorum.contains_key(i)) {
                let candidate = dc_candidate(&self.pids(&part.members));
                for i in &part.members {
                    let dc = self.procs[*i].node.dc();
                    assert!(dc.is_none() || dc == candidate, "a DC other than the candidate");
                }
                let writers = part
                    .members
                    .iter()
                    .filter(|i| self.procs[**i].node.attrd().is_writer())
                    .count();
                assert!(writers <= 1);
                continue;
            }
            let dc = self.procs[*first].node.dc();
            for i in &part.members {
                assert_eq!(
                    self.procs[*i].node.dc(),
                    dc,
                    "members of one partition disagree on the DC"
                );
                assert_eq!(
                    self.procs[*i].node.membership().members(),
                    self.pids(&part.members).as_slice()
                );
            }
            let quorate = part.members.len() * 2 > self.procs.len();
            let expected = if quorate || self.policy.dc_without_quorum() {
                dc_candidate(&self.pids(&part.members))
            } else {
                None
            };
            assert_eq!(dc, expected);
            let writers = part
                .members
                .iter()
                .filter(|i| self.procs[**i].node.attrd().is_writer())
                .count();
            assert_eq!(writers, usize::from(dc.is_some()), "exactly the DC writes");
        }
    }

    /// The attribute table of process `i`.
    pub fn table(&self, i: usize) -> ModelCib {
        let mut t = ModelCib::new();
        for (node, name, value) in self.procs[i].node.attrd().values() {
            t.entry(node).or_default().insert(name.clone(), value.clone());
        }
        t
    }

    /// After [`Cluster::settle`]: members of a partition hold the same table, no sync
    /// round is pending, the partition's writer has written exactly the table, and
    /// nothing was refused.
    pub fn check_settled(&self) {
        self.check_dc();
        for part in &self.parts {
            let Some(first) = part.members.first() else { continue };
            let table = self.table(*first);
            for i in &part.members {
                let node = &self.procs[*i].node;
                assert_eq!(self.table(*i), table, "{} and {} differ", node.me(), self.pid(*first));
                assert!(!node.attrd().syncing());
                assert_eq!(node.stats().dc_disagreements, 0);
                assert_eq!(node.stats().refused_deliveries, 0);
            }
            if self.procs[*first].node.dc().is_some() {
                assert_eq!(part.cib, table, "the CIB holds what the writer has");
            }
        }
    }
}

fn pid_of(i: usize, generation: u32) -> ProcessId {
    ProcessId::new(i as u32 + 1, 1000 * generation + i as u32)
}

fn apply(cib: &mut ModelCib, req: CibRequest) {
    match req {
        CibRequest::Update { node, attrs } => {
            let n = cib.entry(node).or_default();
            for (name, value) in attrs {
                match value {
                    Some(v) => {
                        n.insert(name, v);
                    }
                    None => {
                        n.remove(&name);
                    }
                }
            }
            if n.is_empty() {
                cib.remove(&node);
            }
        }
        CibRequest::Erase { node } => {
            cib.remove(&node);
        }
        CibRequest::ReplaceAll { nodes } => {
            *cib = nodes
                .into_iter()
                .map(|(node, attrs)| (node, attrs.into_iter().collect()))
                .collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::Change;
    use proptest::prelude::*;

    fn name(s: &str) -> AttrName {
        AttrName::new(s).unwrap()
    }
    fn val(s: &str) -> AttrValue {
        AttrValue::new(s).unwrap()
    }
    fn set(node: NodeId, n: &str, v: &str) -> AttrChange {
        AttrChange {
            node,
            name: name(n),
            change: Change::Set(val(v)),
            dampen: None,
        }
    }
    fn n(i: usize) -> NodeId {
        Cluster::node_id(i)
    }

    #[test]
    fn three_nodes_replicate_and_the_dc_writes() {
        let mut c = Cluster::started(3, NoQuorumPolicy::Stop);
        assert_eq!(c.procs[2].node.dc(), Some(c.pid(0)));
        c.update(1, vec![set(n(1), "pingd", "100"), set(n(2), "pingd", "0")])
            .unwrap();
        c.update(2, vec![set(n(1), "pingd", "200")]).unwrap();
        c.settle();
        c.check_settled();
        assert_eq!(
            c.procs[0].node.attrd().get(n(1), &name("pingd")),
            Some(&val("200")),
            "agreed order: last wins"
        );
        assert_eq!(c.parts[0].cib[&n(2)][&name("pingd")], val("0"));
    }

    #[test]
    fn joiner_gets_the_table() {
        let mut c = Cluster::new(3, NoQuorumPolicy::Stop);
        c.start(0);
        c.start(1);
        c.update(0, vec![set(n(0), "a", "1")]).unwrap();
        c.settle();
        c.start(2);
        c.settle();
        c.check_settled();
        assert_eq!(c.procs[2].node.attrd().get(n(0), &name("a")), Some(&val("1")));
    }

    #[test]
    fn dc_crash_moves_the_writer_and_erases_the_node() {
        let mut c = Cluster::started(3, NoQuorumPolicy::Stop);
        c.update(1, vec![set(n(0), "a", "1"), set(n(1), "a", "1")]).unwrap();
        c.settle();
        c.crash(0);
        assert_eq!(c.procs[1].node.dc(), Some(c.pid(1)));
        c.settle();
        c.check_settled();
        assert_eq!(
            c.procs[2].node.attrd().get(n(0), &name("a")),
            None,
            "the lost node's attributes are gone"
        );
        assert!(!c.parts[0].cib.contains_key(&n(0)));
        // It comes back with a new pid and takes the DC role back.
        c.start(0);
        c.settle();
        c.check_settled();
        assert_eq!(c.procs[2].node.dc(), Some(c.pid(0)));
        assert_eq!(c.procs[0].node.attrd().get(n(1), &name("a")), Some(&val("1")));
    }

    #[test]
    fn partition_and_merge_keep_both_sides_changes() {
        let mut c = Cluster::started(3, NoQuorumPolicy::Stop);
        let fc = AttrName::fail_count("web", "monitor", 10000).unwrap();
        let inc = |node| AttrChange {
            node,
            name: fc.clone(),
            change: Change::Add(1),
            dampen: None,
        };
        c.update(0, vec![inc(n(0))]).unwrap();
        c.settle();
        c.split(&BTreeSet::from([2]));
        c.check_dc();
        // Majority {0, 1} keeps DC 0; the minority {2} has one too under "stop".
        assert_eq!(c.procs[2].node.dc(), Some(c.pid(2)));
        c.update(1, vec![inc(n(0)), set(n(1), "x", "majority")]).unwrap();
        c.update(2, vec![inc(n(2)), set(n(2), "x", "minority")]).unwrap();
        c.settle();
        c.check_settled();
        assert_eq!(
            c.procs[1].node.attrd().get(n(2), &name("x")),
            None,
            "node 3 left the majority's view"
        );
        c.merge_all();
        c.settle();
        c.check_settled();
        let a = c.procs[1].node.attrd();
        assert_eq!(a.get(n(0), &fc), Some(&val("2")));
        assert_eq!(a.get(n(2), &fc), Some(&val("1")));
        assert_eq!(a.get(n(2), &name("x")), Some(&val("minority")));
        assert_eq!(a.get(n(1), &name("x")), Some(&val("majority")));
    }

    #[test]
    fn freeze_minority_has_no_dc_and_writes_nothing() {
        let mut c = Cluster::started(3, NoQuorumPolicy::Freeze);
        c.split(&BTreeSet::from([2]));
        assert_eq!(c.procs[2].node.dc(), None);
        let writes = c.writes;
        c.update(2, vec![set(n(2), "x", "1")]).unwrap();
        c.settle();
        c.check_settled();
        assert_eq!(c.procs[2].node.attrd().get(n(2), &name("x")), Some(&val("1")));
        assert_eq!(c.writes, writes, "no DC in the frozen minority");
    }

    #[test]
    fn dampened_updates_coalesce_into_one_write() {
        let mut c = Cluster::started(3, NoQuorumPolicy::Stop);
        let damp = |v: &str| AttrChange {
            node: n(1),
            name: name("pingd"),
            change: Change::Set(val(v)),
            dampen: Some(Duration::from_secs(5)),
        };
        let writes = c.writes;
        for v in ["1", "2", "3", "4"] {
            c.update(1, vec![damp(v)]).unwrap();
            while c.deliver_one(0) {}
            c.advance(Duration::from_secs(1));
        }
        assert_eq!(c.writes, writes, "held while changes keep coming");
        assert_eq!(
            c.procs[2].node.attrd().get(n(1), &name("pingd")),
            Some(&val("4")),
            "replicated at once"
        );
        c.advance(Duration::from_secs(4));
        assert_eq!(c.writes, writes + 1, "one write");
        assert_eq!(c.parts[0].cib[&n(1)][&name("pingd")], val("4"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Update {
            who: usize,
            owned: bool,
            key: u8,
            change: u8,
            dampen: bool,
        },
        Deliver {
            part: usize,
            count: u8,
        },
        Crash {
            who: usize,
        },
        Leave {
            who: usize,
        },
        Quorum {
            k: usize,
        },
        Start {
            who: usize,
        },
        Split {
            mask: u8,
        },
        MergeAll,
        Advance {
            ms: u16,
        },
    }

    fn op(n: usize) -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => (0..n, any::<bool>(), 0u8..4, 0u8..6, any::<bool>())
                .prop_map(|(who, owned, key, change, dampen)| Op::Update { who, owned, key, change, dampen }),
            6 => (0..4usize, 1u8..8).prop_map(|(part, count)| Op::Deliver { part, count }),
            1 => (0..n).prop_map(|who| Op::Crash { who }),
            1 => (0..n).prop_map(|who| Op::Leave { who }),
            3 => (0..8usize).prop_map(|k| Op::Quorum { k }),
            1 => (0..n).prop_map(|who| Op::Start { who }),
            1 => any::<u8>().prop_map(|mask| Op::Split { mask }),
            1 => Just(Op::MergeAll),
            2 => (0u16..8000).prop_map(|ms| Op::Advance { ms }),
        ]
    }

    /// Runs `ops` on `n` processes; returns the cluster, merged and settled, and the
    /// last value each live sender gave its own keys.
    fn run(
        n_procs: usize,
        policy: NoQuorumPolicy,
        lose: bool,
        lag: bool,
        ops: &[Op],
    ) -> (Cluster, BTreeMap<(NodeId, AttrName), Option<AttrValue>>) {
        let mut c = Cluster::started(n_procs, policy);
        c.lose_crashed = lose;
        c.quorum_lag = lag;
        // Keys owned by one sender (its own node, its own names): what it last set.
        let mut owned: BTreeMap<(NodeId, AttrName), Option<AttrValue>> = BTreeMap::new();
        for op in ops {
            match *op {
                Op::Update {
                    who,
                    owned: own,
                    key,
                    change,
                    dampen,
                } => {
                    if !c.procs[who].up {
                        continue;
                    }
                    let (node, attr) = if own {
                        (n(who), name(&format!("own{who}-{key}")))
                    } else {
                        (n(usize::from(key) % n_procs), name(&format!("shared{}", key % 2)))
                    };
                    let ch = match change {
                        0..=2 => Change::Set(val(&format!("{who}.{change}.{}", c.now.as_nanos()))),
                        3 => Change::Delete,
                        _ => Change::Add(i64::from(change)),
                    };
                    let dampen = dampen.then_some(Duration::from_millis(2000));
                    let before = c.procs[who].node.attrd().get(node, &attr).cloned();
                    let accepted = c
                        .update(
                            who,
                            vec![AttrChange {
                                node,
                                name: attr.clone(),
                                change: ch.clone(),
                                dampen,
                            }],
                        )
                        .is_ok();
                    if own && accepted {
                        // Own keys change only through this sender, in its own order.
                        let prev = owned.get(&(node, attr.clone())).cloned().unwrap_or(before);
                        let next = match ch {
                            Change::Set(v) => Some(v),
                            Change::Delete => None,
                            Change::Add(k) => Some(AttrValue::from_score(
                                prev.as_ref().map(AttrValue::as_score).unwrap_or(0) + k,
                            )),
                        };
                        owned.insert((node, attr), next);
                    }
                }
                Op::Deliver { part, count } => {
                    if part < c.parts.len() {
                        for _ in 0..count {
                            c.deliver_one(part);
                        }
                    }
                }
                Op::Crash { who } => {
                    if c.procs[who].up {
                        c.crash(who);
                        owned.retain(|(node, _), _| *node != n(who));
                    }
                }
                Op::Quorum { k } => c.deliver_quorum(k),
                Op::Leave { who } => {
                    if c.procs[who].up {
                        c.leave(who);
                        owned.retain(|(node, _), _| *node != n(who));
                    }
                }
                Op::Start { who } => {
                    if !c.procs[who].up {
                        c.start(who);
                    }
                }
                Op::Split { mask } => {
                    let side: BTreeSet<usize> = (0..n_procs).filter(|i| mask & (1 << i) != 0).collect();
                    c.split(&side);
                }
                Op::MergeAll => c.merge_all(),
                Op::Advance { ms } => c.advance(Duration::from_millis(u64::from(ms))),
            }
            c.check_dc();
        }
        c.settle();
        c.check_settled();
        c.merge_all();
        c.settle();
        c.check_settled();
        (c, owned)
    }

    /// The values of `pingd` on node 2 that the writer wrote, in order.
    fn pingd_writes(log: &[CibRequest]) -> Vec<AttrValue> {
        let mut out = Vec::new();
        for req in log {
            if let CibRequest::Update { node, attrs } = req {
                for (attr, value) in attrs {
                    if *node == n(1) && attr.as_str() == "pingd" {
                        out.push(value.clone().expect("never deleted"));
                    }
                }
            }
        }
        out
    }

    proptest! {
        /// Dampened updates coalesce: with updates at random intervals, the writer
        /// writes once per run of updates closer together than the delay, after the
        /// delay has passed since the run's last update, with that update's value.
        #[test]
        fn dampened_updates_coalesce(steps in proptest::collection::vec((0usize..3, 0u64..4000), 1..30)) {
            let dampen = Duration::from_millis(2000);
            let mut c = Cluster::started(3, NoQuorumPolicy::Stop);
            c.log.clear();
            let mut expected = Vec::new();
            for (k, (who, gap)) in steps.iter().enumerate() {
                let v = val(&k.to_string());
                let change = AttrChange { node: n(1), name: name("pingd"), change: Change::Set(v.clone()), dampen: Some(dampen) };
                c.update(*who, vec![change]).unwrap();
                while c.deliver_one(0) {}
                let before = pingd_writes(&c.log).len();
                c.advance(Duration::from_millis(*gap));
                let written = pingd_writes(&c.log);
                if *gap >= 2000 {
                    expected.push(v);
                    prop_assert_eq!(written.len(), before + 1, "written once the delay passed");
                } else {
                    prop_assert_eq!(written.len(), before, "held within the delay");
                }
            }
            c.settle();
            if steps.last().is_some_and(|(_, gap)| *gap < 2000) {
                expected.push(val(&(steps.len() - 1).to_string()));
            }
            prop_assert_eq!(pingd_writes(&c.log), expected);
            c.check_settled();
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Whatever happens, members of a partition end with the same table, which the
        /// DC has written; every member agrees on the DC at every step; and once all
        /// partitions merge, every live sender's own keys hold its last change (no
        /// update lost while its sender stays a member).
        #[test]
        fn members_converge(
            n in 2usize..6,
            freeze in any::<bool>(),
            lose in any::<bool>(),
            lag in any::<bool>(),
            ops in proptest::collection::vec(op(5), 0..60),
        ) {
            let ops: Vec<Op> = ops.into_iter().filter(|o| match o {
                Op::Update { who, .. } | Op::Crash { who } | Op::Leave { who } | Op::Start { who } => *who < n,
                _ => true,
            }).collect();
            let policy = if freeze { NoQuorumPolicy::Freeze } else { NoQuorumPolicy::Stop };
            let (c, owned) = run(n, policy, lose, lag, &ops);
            let live: Vec<usize> = (0..n).filter(|i| c.procs[*i].up).collect();
            for ((node, attr), value) in &owned {
                for i in &live {
                    prop_assert_eq!(c.procs[*i].node.attrd().get(*node, attr), value.as_ref(), "{} {} at {}", node, attr, i);
                }
            }
        }
    }
}
