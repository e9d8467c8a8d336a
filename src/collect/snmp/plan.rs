//! What one SNMP poll asks for: the scalar GETs and the walked columns of each profile and
//! custom object (OIDs from monitoring-semantics.md §4.3). Pure data; no I/O.

use crate::config::{SnmpProfile, SnmpTarget};

/// sysUpTime.0: always fetched, because the engine needs it to tell a Counter32 wrap from a
/// restart.
pub const SYS_UPTIME: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 3, 0];

const SYSTEM: &[&[u32]] = &[
    &[1, 3, 6, 1, 2, 1, 1, 1, 0], // sysDescr
    &[1, 3, 6, 1, 2, 1, 1, 2, 0], // sysObjectID
    SYS_UPTIME,
    &[1, 3, 6, 1, 2, 1, 1, 5, 0], // sysName
];

const IF_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 2, 2, 1];
const IF_X_TABLE: &[u32] = &[1, 3, 6, 1, 2, 1, 31, 1, 1, 1];
/// ifDescr, ifType, ifSpeed, ifAdminStatus, ifOperStatus, ifInOctets, ifInDiscards,
/// ifInErrors, ifOutOctets, ifOutDiscards, ifOutErrors.
const IF_COLUMNS: &[u32] = &[2, 3, 5, 7, 8, 10, 13, 14, 16, 19, 20];
/// ifName, ifHCInOctets, ifHCOutOctets, ifHighSpeed, ifAlias, ifCounterDiscontinuityTime.
const IF_X_COLUMNS: &[u32] = &[1, 6, 10, 15, 18, 19];

const HR_SCALARS: &[&[u32]] = &[
    &[1, 3, 6, 1, 2, 1, 25, 1, 1, 0], // hrSystemUptime
    &[1, 3, 6, 1, 2, 1, 25, 2, 2, 0], // hrMemorySize
];
const HR_PROCESSOR_LOAD: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 3, 3, 1, 2];
const HR_STORAGE_ENTRY: &[u32] = &[1, 3, 6, 1, 2, 1, 25, 2, 3, 1];
/// hrStorageType, Descr, AllocationUnits, Size, Used.
const HR_STORAGE_COLUMNS: &[u32] = &[2, 3, 4, 5, 6];

const UCD_MEMORY: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 4];
/// memTotalSwap, memAvailSwap, memTotalReal, memAvailReal, memTotalFree, memShared,
/// memBuffer, memCached, memTotalRealX, memAvailRealX, memSysAvail.
const UCD_MEMORY_SCALARS: &[u32] = &[3, 4, 5, 6, 11, 13, 14, 15, 20, 21, 27];
const UCD_SYSTEM_STATS: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 11];
/// ssCpuIdle, ssCpuRaw{User,Nice,System,Idle,Wait,Kernel,Interrupt,SoftIRQ,Steal},
/// ssCpuNumCpus.
const UCD_CPU_SCALARS: &[u32] = &[11, 50, 51, 52, 53, 54, 55, 56, 61, 64, 67];
const UCD_DSK_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 9, 1];
/// dskPath, dskDevice, dskTotal, dskAvail, dskUsed, dskPercent, dskPercentNode and the
/// High/Low halves of total/avail/used.
const UCD_DSK_COLUMNS: &[u32] = &[2, 3, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const UCD_LA_ENTRY: &[u32] = &[1, 3, 6, 1, 4, 1, 2021, 10, 1];
/// laLoad (string), laLoadInt (load × 100).
const UCD_LA_COLUMNS: &[u32] = &[3, 5];

/// The requests of one poll: scalars fetched with GET, and groups of subtrees walked
/// together (one GETBULK carries one repetition per subtree of a group).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub gets: Vec<Vec<u32>>,
    pub walks: Vec<Vec<Vec<u32>>>,
}

fn join(prefix: &[u32], tail: &[u32]) -> Vec<u32> {
    let mut oid = prefix.to_vec();
    oid.extend_from_slice(tail);
    oid
}

fn columns(entry: &[u32], cols: &[u32]) -> Vec<Vec<u32>> {
    cols.iter().map(|c| join(entry, &[*c])).collect()
}

fn scalars(group: &[u32], leaves: &[u32]) -> impl Iterator<Item = Vec<u32>> {
    leaves.iter().map(move |l| join(group, &[*l, 0]))
}

impl Plan {
    /// Every object the target's profiles and custom OIDs name, scalars de-duplicated in
    /// first-mention order (a reply then lines up with the request one-to-one).
    pub fn for_target(snmp: &SnmpTarget) -> Plan {
        let mut plan = Plan::default();
        let push_get = |plan: &mut Plan, oid: Vec<u32>| {
            if !plan.gets.contains(&oid) {
                plan.gets.push(oid);
            }
        };
        push_get(&mut plan, SYS_UPTIME.to_vec());
        for profile in &snmp.profiles {
            match profile {
                SnmpProfile::System => {
                    for oid in SYSTEM {
                        push_get(&mut plan, oid.to_vec());
                    }
                }
                SnmpProfile::IfMib => {
                    let mut group = columns(IF_TABLE, IF_COLUMNS);
                    group.extend(columns(IF_X_TABLE, IF_X_COLUMNS));
                    plan.walks.push(group);
                }
                SnmpProfile::HostResources => {
                    for oid in HR_SCALARS {
                        push_get(&mut plan, oid.to_vec());
                    }
                    let mut group = vec![HR_PROCESSOR_LOAD.to_vec()];
                    group.extend(columns(HR_STORAGE_ENTRY, HR_STORAGE_COLUMNS));
                    plan.walks.push(group);
                }
                SnmpProfile::Ucd => {
                    for oid in scalars(UCD_MEMORY, UCD_MEMORY_SCALARS)
                        .chain(scalars(UCD_SYSTEM_STATS, UCD_CPU_SCALARS))
                    {
                        push_get(&mut plan, oid);
                    }
                    let mut group = columns(UCD_DSK_ENTRY, UCD_DSK_COLUMNS);
                    group.extend(columns(UCD_LA_ENTRY, UCD_LA_COLUMNS));
                    plan.walks.push(group);
                }
            }
        }
        let custom_walks: Vec<Vec<u32>> = snmp
            .custom
            .iter()
            .filter(|c| c.walk)
            .map(|c| c.oid.clone())
            .collect();
        for c in snmp.custom.iter().filter(|c| !c.walk) {
            push_get(&mut plan, c.oid.clone());
        }
        if !custom_walks.is_empty() {
            plan.walks.push(custom_walks);
        }
        plan
    }
}
