//! A deterministic cluster of CRM processes with simulated machines, agents and
//! fencing: the controller, CIB manager and attribute manager run unchanged; the
//! CPG stream, the agents and the fence device are simulated. Each partition has
//! one agreed stream; a configuration change is delivered after the old view's
//! messages (virtual synchrony).
//!
//! Invariants checked after every step:
//! - **single activity**: a primitive outside clones is never running on two live
//!   machines at once (machines are sampled, not the CIB);
//! - **fencing before recovery** follows from it, since a machine cut off keeps its
//!   resources running until it is fenced or stops them itself;
//! - **convergence** (checked by the scenarios): once faults stop, the DC's
//!   transition completes and every resource runs where the CIB says.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use cib::document::CibDocument;
use cib::xml::Element;
use totem::Instant;

use crate::cib_manager::{CibOp, CibPath, CibRequestError, RequestId};
use crate::ids::ProcessId;
use crate::membership::{Confchg, NoQuorumPolicy};
use crate::node::{CrmNode, Output};
use crate::ops::{ExecKey, ExecRequest, ExecResult, ExecStatus, FenceOutcome, FenceRequest};

/// SplitMix64: a portable generator, so a seed means the same run everywhere.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// How long a simulated agent takes.
const OP_TIME: Duration = Duration::from_millis(40);
/// How long the simulated fence device takes.
const FENCE_TIME: Duration = Duration::from_millis(200);
/// How long a fenced machine takes to come back.
const REBOOT_TIME: Duration = Duration::from_secs(5);
/// Wall clock at the start of every run.
const WALL_START: i64 = 1_700_000_000;

#[derive(Debug, Clone)]
struct Recurring {
    req: ExecRequest,
    last_rc: i32,
    next: Instant,
}

/// One machine: its CRM process (when up) and the resources really running on it.
#[derive(Debug)]
pub struct Machine {
    pub proc: Option<CrmNode>,
    generation: u32,
    /// Resource (agent name) → running.
    pub running: BTreeSet<String>,
    execs: VecDeque<(Instant, ExecRequest)>,
    recurring: BTreeMap<ExecKey, Recurring>,
    /// Starts of these resources fail here.
    pub broken: BTreeSet<String>,
    pub part: usize,
    pub shutdown_requested: bool,
    /// The CIB as last persisted (what a reboot reads).
    pub disk: Option<CibDocument>,
    /// Comes back up at this time (a fencing reboot).
    reboot_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct Partition {
    members: BTreeSet<usize>,
    queue: VecDeque<(ProcessId, Vec<u8>)>,
}

#[derive(Debug)]
struct PendingFence {
    due: Instant,
    from: ProcessId,
    req: FenceRequest,
}

/// The simulated cluster.
pub struct CrmSim {
    pub machines: Vec<Machine>,
    parts: Vec<Partition>,
    fences: Vec<PendingFence>,
    pub now: Instant,
    pub policy: NoQuorumPolicy,
    /// Every fencing done: (target index, time).
    pub fenced: Vec<(usize, Instant)>,
    /// Clients' CIB replies, by machine.
    pub replies: Vec<usize>,
    /// Acknowledged client requests: (machine, generation, request).
    pub acked: BTreeSet<(usize, u32, RequestId)>,
    pub trace: bool,
    /// Every one-shot agent operation: (machine, resource, task, begun, ended).
    pub ops: Vec<(usize, String, String, Instant, Option<Instant>)>,
}

pub fn uname(i: usize) -> String {
    format!("n{}", i + 1)
}

fn pid_of(i: usize, generation: u32) -> ProcessId {
    ProcessId::new(i as u32 + 1, 100 + generation)
}

/// A CIB with fencing configured (a test device) and `resources` (XML inside
/// `<resources>`), `constraints` and extra cluster options.
pub fn cib_with(resources: &str, constraints: &str, options: &[(&str, &str)]) -> CibDocument {
    let mut opts = String::new();
    for (k, v) in options {
        opts.push_str(&format!(r#"<nvpair id="opt-{k}" name="{k}" value="{v}"/>"#));
    }
    let xml = format!(
        r#"<cib admin_epoch="0" epoch="1" num_updates="0" validate-with="pacemaker-3.9" crm_feature_set="3.16.2">
<configuration><crm_config><cluster_property_set id="cib-bootstrap-options">{opts}</cluster_property_set></crm_config>
<nodes/><resources><primitive id="fence" class="stonith" type="fence_ferrosync_test"/>{resources}</resources>
<constraints>{constraints}</constraints></configuration><status/></cib>"#
    );
    CibDocument::parse(&xml).expect("test CIB")
}

/// `ocf:pacemaker:Dummy` named `id` with a 10 s monitor.
pub fn dummy(id: &str) -> String {
    format!(
        r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="{id}-monitor-10s" name="monitor" interval="10s" timeout="20s"/></operations></primitive>"#
    )
}

impl CrmSim {
    /// `n` machines, all down; `cib` is every machine's CIB on disk.
    pub fn new(n: usize, policy: NoQuorumPolicy) -> CrmSim {
        CrmSim {
            machines: (0..n)
                .map(|_| Machine {
                    proc: None,
                    generation: 0,
                    running: BTreeSet::new(),
                    execs: VecDeque::new(),
                    recurring: BTreeMap::new(),
                    broken: BTreeSet::new(),
                    part: 0,
                    shutdown_requested: false,
                    disk: None,
                    reboot_at: None,
                })
                .collect(),
            parts: vec![Partition::default()],
            fences: Vec::new(),
            now: Instant::ZERO,
            policy,
            fenced: Vec::new(),
            replies: vec![0; n],
            acked: BTreeSet::new(),
            trace: std::env::var_os("CRM_SIM_TRACE").is_some(),
            ops: Vec::new(),
        }
    }

    fn pids(&self, set: &BTreeSet<usize>) -> Vec<ProcessId> {
        set.iter()
            .filter_map(|i| self.machines[*i].proc.as_ref().map(CrmNode::me))
            .collect()
    }

    pub fn node(&self, i: usize) -> &CrmNode {
        self.machines[i].proc.as_ref().expect("machine up")
    }

    pub fn up(&self, i: usize) -> bool {
        self.machines[i].proc.is_some()
    }

    fn wall(&self) -> i64 {
        WALL_START + (self.now.as_nanos() / 1_000_000_000) as i64
    }

    /// Boots machine `i` with `cib` on disk into partition 0.
    pub fn boot(&mut self, i: usize, cib: CibDocument) {
        assert!(!self.up(i));
        if self.trace {
            eprintln!("{} {} boots", self.now, uname(i));
        }
        let g = self.machines[i].generation + 1;
        let mut node = CrmNode::with_cib(pid_of(i, g), &uname(i), self.policy, cib);
        node.set_wall_clock(self.now, self.wall());
        let m = &mut self.machines[i];
        m.generation = g;
        m.proc = Some(node);
        m.reboot_at = None;
        m.part = 0;
        m.shutdown_requested = false;
        self.flush(0);
        self.parts[0].members.insert(i);
        let joined = BTreeSet::from([i]);
        self.confchg(0, &BTreeSet::new(), &joined);
    }

    /// Machine `i` loses power: its process and resources are gone.
    pub fn power_off(&mut self, i: usize) {
        let Some(me) = self.machines[i].proc.as_ref().map(CrmNode::me) else {
            return;
        };
        if self.trace {
            eprintln!("{} {} powers off", self.now, uname(i));
        }
        let p = self.machines[i].part;
        // What it sent and nobody delivered yet may be lost or delivered (EVS
        // allows both); deliver it, as the ring would have.
        self.flush(p);
        let m = &mut self.machines[i];
        m.proc = None;
        m.running.clear();
        m.execs.clear();
        m.recurring.clear();
        self.parts[p].members.remove(&i);
        self.fences.retain(|f| f.from != me);
        self.confchg(p, &BTreeSet::from([i]), &BTreeSet::new());
    }

    /// Processes told to shut down exit.
    fn exit_shut_down(&mut self) {
        for i in 0..self.machines.len() {
            if self.machines[i].shutdown_requested && self.up(i) {
                self.leave(i);
            }
        }
    }

    /// Machine `i`'s CRM process exits cleanly (its resources were stopped).
    fn leave(&mut self, i: usize) {
        if self.trace {
            eprintln!("{} {} leaves", self.now, uname(i));
        }
        let p = self.machines[i].part;
        self.flush(p);
        assert!(
            self.machines[i].running.is_empty(),
            "{} shut down with {:?} running",
            uname(i),
            self.machines[i].running
        );
        self.machines[i].proc = None;
        self.machines[i].recurring.clear();
        self.parts[p].members.remove(&i);
        self.confchg(p, &BTreeSet::from([i]), &BTreeSet::new());
    }

    /// Asks machine `i` to shut down cleanly (SIGTERM).
    pub fn shutdown(&mut self, i: usize) {
        if self.trace {
            eprintln!("{} {} asked to shut down", self.now, uname(i));
        }
        let node = self.machines[i].proc.as_mut().expect("up");
        node.request_shutdown().expect("shutdown request");
        self.drain(i);
    }

    fn confchg(&mut self, p: usize, left: &BTreeSet<usize>, joined: &BTreeSet<usize>) {
        let members = self.pids(&self.parts[p].members);
        let left: Vec<ProcessId> = left
            .iter()
            .filter_map(|i| self.last_pid(*i))
            .filter(|pid| !members.contains(pid))
            .collect();
        let c = Confchg {
            members: members.clone(),
            left,
            joined: self.pids(joined),
        };
        let quorate = self.parts[p].members.len() * 2 > self.machines.len();
        let now = self.now;
        for i in self.parts[p].members.clone() {
            let node = self.machines[i].proc.as_mut().expect("member up");
            node.on_confchg(now, &c).expect("confchg");
            node.on_quorum(now, quorate);
            node.set_no_quorum_policy(self.policy);
            self.drain(i);
        }
    }

    fn last_pid(&self, i: usize) -> Option<ProcessId> {
        let g = self.machines[i].generation;
        (g > 0).then(|| pid_of(i, g))
    }

    /// Splits the live machines into `groups` (together every live machine).
    pub fn regroup(&mut self, groups: Vec<BTreeSet<usize>>) {
        if self.trace {
            eprintln!("{} partitions {groups:?}", self.now);
        }
        for p in 0..self.parts.len() {
            self.flush(p);
        }
        let old: Vec<BTreeSet<usize>> = (0..self.machines.len())
            .map(|i| {
                if self.up(i) {
                    self.parts[self.machines[i].part].members.clone()
                } else {
                    BTreeSet::new()
                }
            })
            .collect();
        self.parts = groups
            .iter()
            .map(|g| Partition {
                members: g.clone(),
                queue: VecDeque::new(),
            })
            .collect();
        for (k, g) in groups.iter().enumerate() {
            for i in g {
                self.machines[*i].part = k;
            }
        }
        let now = self.now;
        for g in &groups {
            let quorate = g.len() * 2 > self.machines.len();
            for i in g {
                let c = Confchg {
                    members: self.pids(g),
                    left: self.pids(&old[*i].difference(g).copied().collect()),
                    joined: self.pids(&g.difference(&old[*i]).copied().collect()),
                };
                let node = self.machines[*i].proc.as_mut().expect("up");
                node.on_confchg(now, &c).expect("confchg");
                node.on_quorum(now, quorate);
                self.drain(*i);
            }
        }
    }

    fn drain(&mut self, i: usize) {
        loop {
            let Some(node) = self.machines[i].proc.as_mut() else {
                return;
            };
            let me = node.me();
            let Some(out) = node.poll_output() else { return };
            match out {
                Output::Multicast(bytes) => {
                    let p = self.machines[i].part;
                    self.parts[p].queue.push_back((me, bytes));
                }
                Output::Execute(req) => {
                    if self.trace {
                        eprintln!(
                            "{} {} exec {} {} {}",
                            self.now,
                            uname(i),
                            req.rsc,
                            req.task,
                            req.interval_ms
                        );
                    }
                    let due = self.now + OP_TIME;
                    if req.interval_ms == 0 {
                        self.ops.push((i, req.rsc.clone(), req.task.clone(), self.now, None));
                    }
                    self.machines[i].execs.push_back((due, req));
                }
                Output::Cancel(key) => {
                    self.machines[i].recurring.remove(&key);
                }
                Output::Fence(req) => {
                    if self.trace {
                        eprintln!("{} {} fence {}", self.now, uname(i), req.target);
                    }
                    self.fences.push(PendingFence {
                        due: self.now + FENCE_TIME,
                        from: me,
                        req,
                    });
                }
                Output::Persist(doc) => self.machines[i].disk = Some(doc),
                Output::CibReply { request, result } => {
                    self.replies[i] += 1;
                    if result.is_ok() {
                        self.acked.insert((i, self.machines[i].generation, request));
                    }
                }
                // Left after the current delivery, as the process would exit after
                // handling it.
                Output::Shutdown => self.machines[i].shutdown_requested = true,
            }
        }
    }

    /// Delivers everything queued in partition `p`.
    fn flush(&mut self, p: usize) {
        while let Some((from, bytes)) = self.parts[p].queue.pop_front() {
            let now = self.now;
            for i in self.parts[p].members.clone() {
                if let Some(node) = self.machines[i].proc.as_mut() {
                    node.on_deliver(now, from, &bytes).expect("delivery");
                }
                self.drain(i);
            }
        }
    }

    /// What an agent does: Dummy semantics on the machine's resources.
    fn run_agent(&mut self, i: usize, req: &ExecRequest) -> i32 {
        let m = &mut self.machines[i];
        let running = m.running.contains(&req.rsc);
        match req.task.as_str() {
            "start" => {
                if m.broken.contains(&req.rsc) {
                    return 1;
                }
                m.running.insert(req.rsc.clone());
                0
            }
            "stop" => {
                m.running.remove(&req.rsc);
                0
            }
            "monitor" => {
                if running {
                    0
                } else {
                    7
                }
            }
            _ => 0,
        }
    }

    /// Runs everything due by `now`: agent operations, recurring monitors, fencing.
    fn run_due(&mut self) {
        let now = self.now;
        for i in 0..self.machines.len() {
            if self.machines[i].reboot_at.is_some_and(|at| at <= now) && !self.up(i) {
                let disk = self.machines[i].disk.clone().unwrap_or_else(|| CibDocument::empty(0));
                self.boot(i, disk);
            }
        }
        for i in 0..self.machines.len() {
            while let Some((due, _)) = self.machines[i].execs.front() {
                if *due > now || self.machines[i].proc.is_none() {
                    break;
                }
                let (_, req) = self.machines[i].execs.pop_front().expect("front");
                let rc = self.run_agent(i, &req);
                if let Some(op) = self
                    .ops
                    .iter_mut()
                    .rev()
                    .find(|o| o.0 == i && o.1 == req.rsc && o.2 == req.task && o.4.is_none())
                {
                    op.4 = Some(now);
                }
                if req.interval_ms > 0 {
                    self.machines[i].recurring.insert(
                        req.key,
                        Recurring {
                            req: req.clone(),
                            last_rc: rc,
                            next: now + Duration::from_millis(req.interval_ms),
                        },
                    );
                }
                self.report(i, req.key, rc);
            }
            let due: Vec<ExecKey> = self.machines[i]
                .recurring
                .iter()
                .filter(|(_, r)| r.next <= now)
                .map(|(k, _)| *k)
                .collect();
            for k in due {
                let Some(r) = self.machines[i].recurring.get(&k).cloned() else {
                    continue;
                };
                let rc = self.run_agent(i, &r.req);
                if let Some(r) = self.machines[i].recurring.get_mut(&k) {
                    r.next = now + Duration::from_millis(r.req.interval_ms);
                    if r.last_rc == rc {
                        continue;
                    }
                    r.last_rc = rc;
                }
                self.report(i, k, rc);
            }
        }
        let (due, later): (Vec<PendingFence>, Vec<PendingFence>) =
            std::mem::take(&mut self.fences).into_iter().partition(|f| f.due <= now);
        self.fences = later;
        for f in due {
            let target = (0..self.machines.len()).find(|&i| uname(i) == f.req.target);
            if let Some(t) = target {
                if self.trace {
                    eprintln!("{now} fenced {}", f.req.target);
                }
                self.power_off(t);
                self.fenced.push((t, now));
                if f.req.action == crate::ops::FenceAction::Reboot {
                    self.machines[t].reboot_at = Some(now + REBOOT_TIME);
                }
            }
            let from =
                (0..self.machines.len()).find(|&i| self.machines[i].proc.as_ref().is_some_and(|n| n.me() == f.from));
            if let Some(i) = from {
                let outcome = FenceOutcome {
                    key: f.req.key,
                    result: target.map(|_| ()).ok_or_else(|| "no such node".to_string()),
                };
                let node = self.machines[i].proc.as_mut().expect("up");
                node.on_fence_result(now, &outcome);
                self.drain(i);
            }
        }
    }

    fn report(&mut self, i: usize, key: ExecKey, rc: i32) {
        let now = self.now;
        let Some(node) = self.machines[i].proc.as_mut() else {
            return;
        };
        node.on_exec_result(
            now,
            &ExecResult {
                key,
                rc,
                status: ExecStatus::Done,
                exit_reason: None,
                exec_ms: OP_TIME.as_millis() as u64,
                queue_ms: 0,
            },
        );
        self.drain(i);
    }

    /// No two live machines run the same primitive. Fence devices are left out:
    /// a "running" device is only monitored, and Pacemaker starts one where it can
    /// without waiting for fencing (stonith resources require quorum, not fencing:
    /// `order_start_vs_fencing`).
    pub fn check_single_activity(&self) {
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, m) in self.machines.iter().enumerate() {
            if m.proc.is_none() {
                continue;
            }
            for r in m.running.iter().filter(|r| *r != "fence") {
                if let Some(j) = seen.insert(r, i) {
                    panic!("{r} runs on {} and {} at {}", uname(j), uname(i), self.now);
                }
            }
        }
    }

    /// One step of `d`: deliver everything, run what is due, fire timers.
    pub fn step(&mut self, d: Duration) {
        for p in 0..self.parts.len() {
            self.flush(p);
        }
        self.now = self.now + d;
        self.run_due();
        let now = self.now;
        for i in 0..self.machines.len() {
            if let Some(node) = self.machines[i].proc.as_mut() {
                if node.next_deadline().is_some_and(|at| at <= now) {
                    node.on_timer(now);
                }
            }
            self.drain(i);
        }
        for p in 0..self.parts.len() {
            self.flush(p);
        }
        self.exit_shut_down();
        self.check_single_activity();
    }

    /// Runs for `d` in steps of 10 ms.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step(Duration::from_millis(10));
        }
    }

    /// Runs until `pred` holds (checked every step) or `limit` passes; whether it held.
    pub fn run_until(&mut self, limit: Duration, mut pred: impl FnMut(&CrmSim) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            // Step first: what was just asked must be delivered before it is judged.
            self.step(Duration::from_millis(10));
            if pred(self) {
                return true;
            }
        }
        false
    }

    /// The machines a resource runs on.
    pub fn where_runs(&self, rsc: &str) -> Vec<usize> {
        (0..self.machines.len())
            .filter(|&i| self.up(i) && self.machines[i].running.contains(rsc))
            .collect()
    }

    /// The DC's machine, if any machine sees itself as DC.
    pub fn dc(&self) -> Option<usize> {
        (0..self.machines.len()).find(|&i| self.machines[i].proc.as_ref().is_some_and(|n| n.controller().active()))
    }

    /// Nothing left to do: the DC is idle with a complete join.
    pub fn settled(&self) -> bool {
        self.dc().is_some_and(|d| {
            let n = self.node(d);
            n.controller().idle() && n.controller().join_complete() && n.cib_manager().idle()
        }) && self.fences.is_empty()
            && self.machines.iter().all(|m| m.execs.is_empty())
    }

    /// The state, for failure messages.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "at {}: dc {:?}, pending fences {}\n",
            self.now,
            self.dc().map(uname),
            self.fences.len()
        );
        for (i, m) in self.machines.iter().enumerate() {
            let Some(n) = &m.proc else {
                out.push_str(&format!("{} down\n", uname(i)));
                continue;
            };
            out.push_str(&format!(
                "{} {} part {} running {:?} execs {} dc {:?} members {:?} quorate {} cib idle {} joined {} idle {} transition {:?}\n",
                uname(i),
                n.me(),
                m.part,
                m.running,
                m.execs.len(),
                n.dc(),
                n.membership().members(),
                n.membership().quorate(),
                n.cib_manager().idle(),
                n.controller().join_complete(),
                n.controller().idle(),
                n.controller().transition().map(|t| (t.id(), t.aborted())),
            ));
        }
        if let Some(d) = self.dc() {
            out.push_str(&self.node(d).cib().to_xml());
        }
        out
    }

    /// A client's CIB change through machine `i`.
    pub fn cib_request(&mut self, i: usize, op: CibOp) {
        self.try_cib_request(i, op).expect("request accepted");
    }

    /// A client's CIB change through machine `i`: its handle (machine, generation,
    /// request), acknowledged when in [`CrmSim::acked`].
    pub fn try_cib_request(&mut self, i: usize, op: CibOp) -> Result<(usize, u32, RequestId), CibRequestError> {
        let node = self.machines[i].proc.as_mut().expect("up");
        let r = node.cib_request(op);
        self.drain(i);
        r.map(|id| (i, self.machines[i].generation, id))
    }

    /// Adds a primitive (XML) through machine `i`.
    pub fn add_resource(&mut self, i: usize, xml: &str) {
        let element = Element::parse(xml).expect("resource XML");
        self.cib_request(
            i,
            CibOp::Create {
                parent: CibPath::new("/cib/configuration/resources").expect("path"),
                element,
            },
        );
    }

    pub fn cleanup(&mut self, i: usize, rsc: &str) {
        let node = self.machines[i].proc.as_mut().expect("up");
        node.cleanup(rsc, None).expect("cleanup");
        self.drain(i);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(120);

    fn started(n: usize, cib: CibDocument) -> CrmSim {
        let mut s = CrmSim::new(n, NoQuorumPolicy::Stop);
        for i in 0..n {
            s.boot(i, cib.clone());
        }
        assert!(s.run_until(LIMIT, CrmSim::settled), "never settled");
        s
    }

    #[test]
    fn dummy_starts_and_the_next_run_plans_nothing() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        assert_eq!(s.where_runs("d").len(), 1);
        assert_eq!(s.where_runs("fence").len(), 1);
        let dc = s.dc().unwrap();
        let transitions = s.node(dc).controller().stats().transitions;
        // Force a recompute: the history the nodes wrote must satisfy the
        // scheduler (digests, recurring monitors), so nothing is planned.
        s.run(Duration::from_secs(16 * 60));
        assert!(s.settled());
        let after = s.node(dc).controller().stats().transitions;
        assert_eq!(
            after,
            transitions,
            "a recheck found work to do: {}",
            s.node(dc).cib().to_xml()
        );
        // Every node holds the same CIB.
        let digest = s.node(0).cib().digest();
        for i in 1..3 {
            assert_eq!(s.node(i).cib().digest(), digest);
        }
    }

    #[test]
    fn resource_added_at_run_time_starts_once() {
        let mut s = started(3, cib_with("", "", &[]));
        s.add_resource(1, &dummy("late"));
        assert!(s.run_until(LIMIT, |s| s.where_runs("late").len() == 1 && s.settled()));
        assert!(s.replies[1] >= 1, "the client was answered");
    }

    #[test]
    fn killed_node_is_fenced_and_its_resource_starts_elsewhere() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        let at = s.where_runs("d")[0];
        s.power_off(at);
        assert!(
            s.run_until(LIMIT, |s| s.where_runs("d").len() == 1 && s.settled()),
            "d did not move"
        );
        assert_ne!(s.where_runs("d"), [at]);
        assert!(s.fenced.iter().any(|(t, _)| *t == at), "the lost node was fenced");
    }

    #[test]
    fn failed_monitor_recovers_in_place_then_moves_after_the_threshold() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        s.cib_request(
            0,
            CibOp::Merge {
                path: CibPath::new(
                    "/cib/configuration/rsc_defaults/meta_attributes[@id='rsc-options']/nvpair[@id='mt']",
                )
                .unwrap(),
                attrs: vec![
                    (
                        crate::cib_manager::XmlAttr::new("name").unwrap(),
                        "migration-threshold".into(),
                    ),
                    (crate::cib_manager::XmlAttr::new("value").unwrap(), "2".into()),
                ],
            },
        );
        assert!(s.run_until(LIMIT, CrmSim::settled));
        let at = s.where_runs("d")[0];
        // The resource dies under its monitor: recovered in place.
        s.machines[at].running.remove("d");
        assert!(s.run_until(LIMIT, |s| s.where_runs("d") == [at] && s.settled()));
        let dc = s.dc().unwrap();
        let fc = crate::ids::AttrName::fail_count("d", "monitor", 10_000).unwrap();
        assert_eq!(
            s.node(dc)
                .attrd()
                .get(crate::ids::NodeId(at as u32 + 1), &fc)
                .map(|v| v.as_str()),
            Some("1")
        );
        // Again: the threshold is reached and it moves.
        s.machines[at].running.remove("d");
        assert!(s.run_until(LIMIT, |s| s.where_runs("d").len() == 1
            && s.where_runs("d") != [at]
            && s.settled()));
        // A cleanup clears the failures; stickiness 0 may bring it back, either way it runs once.
        s.cleanup(0, "d");
        assert!(s.run_until(LIMIT, |s| s.where_runs("d").len() == 1 && s.settled()));
        let dc = s.dc().unwrap();
        let left: Vec<String> = s
            .node(dc)
            .attrd()
            .values()
            .map(|(node, n, v)| format!("{node} {} {}", n.as_str(), v.as_str()))
            .collect();
        assert!(
            s.node(dc)
                .attrd()
                .values()
                .all(|(_, n, _)| !n.as_str().starts_with("fail-count-d#")),
            "{left:?}"
        );
    }

    #[test]
    fn minority_stops_and_majority_fences_before_taking_over() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        let at = s.where_runs("d")[0];
        let rest: BTreeSet<usize> = (0..3).filter(|&i| i != at).collect();
        s.regroup(vec![BTreeSet::from([at]), rest]);
        assert!(s.run_until(LIMIT, |s| s.where_runs("d").len() == 1
            && !s.where_runs("d").contains(&at)));
        assert!(s.fenced.iter().any(|(t, _)| *t == at));
    }

    #[test]
    fn dc_killed_mid_transition_new_dc_finishes() {
        let cib = cib_with(&format!("{}{}{}", dummy("a"), dummy("b"), dummy("c")), "", &[]);
        let mut s = CrmSim::new(3, NoQuorumPolicy::Stop);
        for i in 0..3 {
            s.boot(i, cib.clone());
        }
        // Let the first transition begin, then kill the DC.
        assert!(s.run_until(LIMIT, |s| s.dc().is_some_and(|d| s
            .node(d)
            .controller()
            .transition()
            .is_some())));
        let dc = s.dc().unwrap();
        let killed = s.now;
        s.power_off(dc);
        assert!(s.run_until(LIMIT, |s| s.settled()
            && ["a", "b", "c"].iter().all(|r| s.where_runs(r).len() == 1)));
        let fenced_at = s
            .fenced
            .iter()
            .find(|(t, _)| *t == dc)
            .expect("the old DC was fenced")
            .1;
        // A node seen and lost is not waited for as if it were still starting.
        assert!(
            fenced_at - killed < Duration::from_secs(5),
            "fenced {:?} after the kill",
            fenced_at - killed
        );
    }

    #[test]
    fn clean_shutdown_moves_resources_without_fencing() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        let at = s.where_runs("d")[0];
        s.shutdown(at);
        assert!(s.run_until(LIMIT, |s| !s.up(at) && s.where_runs("d").len() == 1 && s.settled()));
        assert!(s.fenced.is_empty(), "a clean shutdown is not fenced: {:?}", s.fenced);
        // It comes back and rejoins; d stays put or moves, once.
        s.boot(at, s.machines[at].disk.clone().unwrap());
        assert!(s.run_until(LIMIT, |s| s.where_runs("d").len() == 1 && s.settled()));
        assert!(s.fenced.is_empty());
    }

    #[test]
    fn the_dc_shuts_down_cleanly_too() {
        let mut s = started(3, cib_with(&format!("{}{}", dummy("a"), dummy("b")), "", &[]));
        let dc = s.dc().unwrap();
        s.shutdown(dc);
        assert!(s.run_until(LIMIT, |s| !s.up(dc)
            && s.settled()
            && s.where_runs("a").len() == 1
            && s.where_runs("b").len() == 1));
        assert_ne!(s.dc(), Some(dc));
        assert!(s.fenced.is_empty(), "{:?}", s.fenced);
    }

    /// The last time `task` of `rsc` began and ended.
    fn last_op(s: &CrmSim, rsc: &str, task: &str) -> (Instant, Instant) {
        let o = s
            .ops
            .iter()
            .rev()
            .find(|o| o.1 == rsc && o.2 == task)
            .expect("operation ran");
        (o.3, o.4.expect("operation ended"))
    }

    #[test]
    fn group_colocation_and_order_on_start_and_failover() {
        let group = format!(
            r#"<group id="g">{}{}</group>{}"#,
            dummy("ip"),
            dummy("app"),
            dummy("db")
        );
        let constraints = r#"<rsc_colocation id="g-with-db" rsc="g" with-rsc="db" score="INFINITY"/><rsc_order id="db-then-g" first="db" then="g"/>"#;
        let mut s = started(3, cib_with(&group, constraints, &[]));
        let at = s.where_runs("db");
        assert_eq!(at.len(), 1);
        for r in ["ip", "app"] {
            assert_eq!(s.where_runs(r), at, "{r} with db");
        }
        let check_order = |s: &CrmSim| {
            let (_, db) = last_op(s, "db", "start");
            let (ip_begin, ip) = last_op(s, "ip", "start");
            let (app_begin, _) = last_op(s, "app", "start");
            assert!(db <= ip_begin, "db before the group");
            assert!(ip <= app_begin, "ip before app");
        };
        check_order(&s);
        s.power_off(at[0]);
        assert!(s.run_until(LIMIT, |s| s.settled()
            && ["ip", "app", "db"].iter().all(|r| s.where_runs(r).len() == 1)));
        let now_at = s.where_runs("db");
        assert_ne!(now_at, at);
        for r in ["ip", "app"] {
            assert_eq!(s.where_runs(r), now_at, "{r} with db after failover");
        }
        check_order(&s);
    }

    #[test]
    fn standby_moves_resources_and_online_respects_stickiness() {
        let mut s = started(3, cib_with(&dummy("d"), "", &[]));
        s.cib_request(
            0,
            CibOp::Merge {
                path: CibPath::new(
                    "/cib/configuration/rsc_defaults/meta_attributes[@id='rsc-options']/nvpair[@id='st']",
                )
                .unwrap(),
                attrs: vec![
                    (
                        crate::cib_manager::XmlAttr::new("name").unwrap(),
                        "resource-stickiness".into(),
                    ),
                    (crate::cib_manager::XmlAttr::new("value").unwrap(), "100".into()),
                ],
            },
        );
        assert!(s.run_until(LIMIT, CrmSim::settled));
        let at = s.where_runs("d")[0];
        let standby = |value: &str| {
            CibOp::Merge {
            path: CibPath::new(format!(
                "/cib/configuration/nodes/node[@id='{0}']/instance_attributes[@id='nodes-{0}']/nvpair[@id='nodes-{0}-standby']",
                at + 1
            ))
            .unwrap(),
            attrs: vec![
                (crate::cib_manager::XmlAttr::new("name").unwrap(), "standby".into()),
                (crate::cib_manager::XmlAttr::new("value").unwrap(), value.into()),
            ],
        }
        };
        s.cib_request(0, standby("on"));
        assert!(s.run_until(LIMIT, |s| s.settled()
            && s.where_runs("d").len() == 1
            && s.where_runs("d") != [at]));
        let moved_to = s.where_runs("d");
        s.cib_request(0, standby("off"));
        s.run(Duration::from_secs(5));
        assert!(s.settled());
        assert_eq!(s.where_runs("d"), moved_to, "stickiness keeps it where it is");
    }

    #[test]
    fn full_restart_keeps_the_cib_and_an_older_copy_takes_the_newer() {
        let cib = cib_with(&dummy("d"), "", &[]);
        let mut s = started(3, cib);
        s.power_off(2);
        assert!(s.run_until(LIMIT, |s| s.settled() && s.where_runs("d").len() == 1));
        s.add_resource(0, &dummy("late"));
        assert!(s.run_until(LIMIT, |s| s.settled() && s.where_runs("late").len() == 1));
        let newest = s.node(0).cib().version();
        // n3 was fenced and rebooted meanwhile; stop everything.
        for i in 0..3 {
            s.power_off(i);
            s.machines[i].reboot_at = None;
        }
        // The node with the oldest copy comes back first, alone.
        let old = s.machines[2].disk.clone().expect("n3 persisted");
        assert!(old.find("/cib/configuration/resources/primitive[@id='late']").is_none());
        s.boot(2, old);
        s.run(Duration::from_secs(2));
        for i in 0..2 {
            let disk = s.machines[i].disk.clone().expect("persisted");
            s.boot(i, disk);
        }
        assert!(s.run_until(LIMIT, |s| s.settled()
            && s.where_runs("d").len() == 1
            && s.where_runs("late").len() == 1));
        for i in 0..3 {
            let v = s.node(i).cib().version();
            assert!(
                (v.admin_epoch, v.epoch) >= (newest.admin_epoch, newest.epoch),
                "{} has {v}",
                uname(i)
            );
        }
    }

    /// The DC dies while another node starts a resource: the new DC learns of the
    /// start in progress from that node's join answer (a pending record) and does
    /// not start the resource anywhere else.
    #[test]
    fn dc_dies_while_a_start_runs_elsewhere() {
        // Sticky; preferring n2 (not the DC, n1, the lowest) and then n3. Fencing is
        // off, so that nothing waits for the old DC to be fenced.
        let sticky = dummy("d").replace(
            "<operations>",
            r#"<meta_attributes id="d-meta"><nvpair id="d-st" name="resource-stickiness" value="100"/></meta_attributes><operations>"#,
        );
        let constraints = r#"<rsc_location id="prefer-n2" rsc="d" node="n2" score="50"/><rsc_location id="then-n3" rsc="d" node="n3" score="20"/>"#;
        let cib = cib_with(&sticky, constraints, &[("stonith-enabled", "false")]);
        let mut s = CrmSim::new(3, NoQuorumPolicy::Stop);
        for i in 0..3 {
            s.boot(i, cib.clone());
        }
        let starting = |s: &CrmSim| {
            s.machines[1]
                .execs
                .iter()
                .any(|(_, r)| r.rsc == "d" && r.task == "start")
        };
        assert!(s.run_until(LIMIT, starting));
        assert_eq!(s.dc(), Some(0));
        // The preference for n2 goes as the DC dies: a DC that did not know of the
        // start in progress would start d on n3 as well.
        s.cib_request(
            1,
            CibOp::Delete {
                path: CibPath::new("/cib/configuration/constraints/rsc_location[@id='prefer-n2']").unwrap(),
            },
        );
        s.power_off(0);
        assert!(s.run_until(LIMIT, |s| s.settled() && s.where_runs("d").len() == 1));
        assert_eq!(s.where_runs("d"), [1], "started once, where it was starting");
    }

    /// Random schedules of crashes, restarts, partitions and resource failures:
    /// single activity holds throughout and the cluster converges once faults stop.
    #[test]
    fn random_schedules() {
        // CRM_SIM_SEEDS=A..B runs another range (a sweep); CI runs the first 24.
        let range = std::env::var("CRM_SIM_SEEDS").ok().and_then(|r| {
            let (a, b) = r.split_once("..")?;
            Some(a.parse::<u64>().ok()?..b.parse::<u64>().ok()?)
        });
        for seed in range.unwrap_or(0..24) {
            run_seed(seed);
        }
    }

    pub fn run_seed(seed: u64) {
        eprintln!("seed {seed}");
        let mut rng = Rng::new(seed);
        let n = 3 + rng.below(3) as usize;
        let cib = cib_with(&format!("{}{}{}", dummy("a"), dummy("b"), dummy("c")), "", &[]);
        let mut s = CrmSim::new(n, NoQuorumPolicy::Stop);
        if s.trace {
            let _ = tracing_subscriber::fmt().with_writer(std::io::stderr).try_init();
        }
        // Resources clients added: (id, request handle).
        let mut added: Vec<(String, (usize, u32, RequestId))> = Vec::new();
        for i in 0..n {
            s.boot(i, cib.clone());
        }
        for _ in 0..12 {
            s.run(Duration::from_millis(rng.below(3000)));
            let i = rng.below(n as u64) as usize;
            let live = (0..n).filter(|&j| s.up(j)).count();
            if s.up(i) && rng.below(3) == 0 {
                let id = format!("x{}", added.len());
                let op = CibOp::Create {
                    parent: CibPath::new("/cib/configuration/resources").unwrap(),
                    element: Element::parse(&dummy(&id)).unwrap(),
                };
                if let Ok(handle) = s.try_cib_request(i, op) {
                    added.push((id, handle));
                }
            }
            match rng.below(5) {
                0 if s.up(i) && live > n / 2 + 1 => s.power_off(i),
                4 if s.up(i) && live > n / 2 + 1 => s.shutdown(i),
                1 if !s.up(i) => s.boot(i, cib.clone()),
                2 if s.up(i) => {
                    let r = ["a", "b", "c"][rng.below(3) as usize];
                    s.machines[i].running.remove(r);
                }
                3 => {
                    let live: Vec<usize> = (0..n).filter(|&j| s.up(j)).collect();
                    let cut = rng.below(live.len() as u64) as usize;
                    let (a, b): (BTreeSet<usize>, BTreeSet<usize>) = live.iter().partition(|&&j| j <= live[cut]);
                    let groups: Vec<BTreeSet<usize>> = [a, b].into_iter().filter(|g| !g.is_empty()).collect();
                    s.regroup(groups);
                    s.run(Duration::from_millis(rng.below(3000)));
                    let live: BTreeSet<usize> = (0..n).filter(|&j| s.up(j)).collect();
                    s.regroup(vec![live]);
                }
                _ => {}
            }
        }
        // Faults stop: everything down comes back (a shutdown asked for last may
        // still be finishing), and the cluster converges.
        for _ in 0..3 {
            s.run(Duration::from_secs(5));
            let live: BTreeSet<usize> = (0..n).filter(|&j| s.up(j)).collect();
            if s.parts.iter().filter(|p| !p.members.is_empty()).count() > 1 {
                s.regroup(vec![live]);
            }
            for i in 0..n {
                if !s.up(i) {
                    s.boot(i, s.machines[i].disk.clone().unwrap_or_else(|| cib.clone()));
                }
            }
        }
        let ok = s.run_until(Duration::from_secs(600), |s| {
            s.settled() && (0..n).all(|i| s.up(i)) && ["a", "b", "c"].iter().all(|r| s.where_runs(r).len() == 1)
        });
        assert!(ok, "seed {seed}: did not converge\n{}", s.describe());
        // No acknowledged change lost; whatever was added runs once.
        let dc = s.dc().unwrap();
        for (id, handle) in &added {
            let present = s
                .node(dc)
                .cib()
                .find(&format!("/cib/configuration/resources/primitive[@id='{id}']"))
                .is_some();
            if s.acked.contains(handle) {
                assert!(present, "seed {seed}: acknowledged {id} lost");
            }
            if present {
                assert_eq!(s.where_runs(id).len(), 1, "seed {seed}: {id}");
            }
        }
    }
}
