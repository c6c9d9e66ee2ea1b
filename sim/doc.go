// Package sim owns the fleet simulator: many virtual meters of package meter
// put on the network as DLMS/COSEM logical devices, one loopback address per
// meter, and the shipment manifest that tells a head-end how to reach them.
//
// A Fleet derives everything a meter is (serial, system title, keys, LLS
// password, address) from the fleet seed and the meter's index, so an idle
// meter costs a pointer slot until a client first connects to it. The COSEM
// tree of a meter (NewDevice) is built when a connection arrives and dropped
// when it ends; the meter model behind it keeps the state that must survive
// (relay, clock setting, invocation counters, lockouts).
//
// Config.Gas and Config.Water put gas and water meters behind a fraction
// of the electricity meters, on M-Bus channels 1 and 2, served through the
// M-Bus client class (see mbus.go for the objects); the manifest lists
// them with their parent and channel.
//
// Config.Models mixes object models (models.go: IDIS-like, dsmr5.go,
// thirdparty.go) and Config.DLMSFaults gives meters firmware faults
// (quirks.go), each drawn per meter from the seed; docs/dlms.md lists
// what each looks like on the wire.
//
// Config.Readout, C1218, C1222 and OSGP make fractions of the meters speak
// IEC 62056-21, ANSI C12.18, ANSI C12.22 or OSGP instead of DLMS, each at
// a port of its own on the meter's address (readout.go, c12.go). The C12
// and OSGP meters serve one C12.19 table set computed from the same model
// (c12tables.go), so every family reads the same energy.
//
// The per-meter keys are derived with HMAC-SHA256 over the seed and the meter
// id. That is a reproducible test fixture, not a key-management scheme: anyone
// who knows the seed knows every key.
package sim
