//! The configuration map (icmap) of a loaded corosync.conf: every key typed as
//! corosync's coroparse types it, this node's position, and the values totem runs with
//! (`runtime.config.totem.*`). Served by the cmap service.

use services::cmap::config::{self as cmapconf, ConfEntry, IdKind, RuntimeTotem};
use services::Icmap;

use crate::conf::ClusterConfig;

/// Builds the map for `conf` as node `node_id`; errors name the key and value.
pub fn build(conf: &ClusterConfig, node_id: u32) -> Result<Icmap, cmapconf::ConfigError> {
    let entries: Vec<ConfEntry> = conf
        .entries
        .iter()
        .map(|e| ConfEntry {
            sections: e.sections.clone(),
            index: e.index,
            key: e.key.clone(),
            value: e.value.clone(),
        })
        .collect();
    let mut map = cmapconf::load(&entries, resolve_id)?;
    cmapconf::set_local_node_pos(&mut map, node_id);
    let t = &conf.totem;
    let ms = |d: std::time::Duration| d.as_millis() as u32;
    cmapconf::set_runtime_totem(
        &mut map,
        &RuntimeTotem {
            token: ms(t.token),
            token_retransmit: ms(t.token_retransmit),
            hold: ms(t.hold),
            token_retransmits_before_loss_const: conf.token_retransmits_before_loss,
            join: ms(t.join),
            send_join: ms(t.send_join),
            consensus: ms(t.consensus),
            merge: ms(t.merge),
            downcheck: ms(t.downcheck),
            fail_recv_const: t.fail_recv_const,
            seqno_unchanged_const: t.seqno_unchanged_const,
            heartbeat_failures_allowed: 0,
            max_network_delay: 50,
            window_size: t.window_size,
            max_messages: t.max_messages,
            miss_count_const: t.miss_count_const,
            token_warning: 75,
            knet_pmtud_interval: 30,
            knet_mtu: 0,
            knet_compression_threshold: 0,
            knet_compression_model: "none".into(),
            block_unlisted_ips: conf.block_unlisted_ips,
            cancel_token_hold_on_retransmit: false,
        },
    );
    Ok(map)
}

/// `uidgid { uid: NAME }` entries name users and groups; numbers are taken as they are.
fn resolve_id(kind: IdKind, name: &str) -> Option<u32> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    match kind {
        IdKind::User => nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(|u| u.uid.as_raw()),
        IdKind::Group => nix::unistd::Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_keys_and_runtime_values() {
        let text = "totem {\n version: 2\n cluster_name: c\n token: 1000\n}\n\
                    nodelist {\n node {\n ring0_addr: 127.0.0.1\n nodeid: 1\n }\n node {\n ring0_addr: 127.0.0.2\n nodeid: 2\n }\n}\n\
                    quorum {\n provider: corosync_votequorum\n two_node: 1\n}\n\
                    uidgid {\n uid: root\n}\n";
        let conf = ClusterConfig::from_text("t.conf", text).unwrap();
        let map = build(&conf, 2).unwrap();
        assert_eq!(map.get("nodelist.node.1.nodeid"), Some(&services::Value::U32(2)));
        assert_eq!(map.get("nodelist.local_node_pos"), Some(&services::Value::U32(1)));
        assert_eq!(map.string("totem.cluster_name"), Some("c"));
        assert_eq!(map.u32("runtime.config.totem.token"), Some(1000));
        assert!(
            map.get("uidgid.config.uid.0").is_some(),
            "{:?}",
            map.iter_prefix("uidgid").collect::<Vec<_>>()
        );
    }
}
