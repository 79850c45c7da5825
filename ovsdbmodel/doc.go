// Package ovsdbmodel holds the OVSDB schemas the sidecar is built against
// and the libovsdb models generated from them.
//
// The schemas are the oldest supported: Open vSwitch 3.1 and OVN 23.03 as
// shipped by Debian 12. A model column missing from a server's schema makes
// the connection fail, so newer servers are fine and older ones are not.
//
// The sidecar uses vswitch and sb; nb is used only by the benchmark
// (internal/bench), which writes Logical_Switch_Ports.
package ovsdbmodel

//go:generate go tool modelgen --extended -p vswitch -o vswitch vswitch.ovsschema
//go:generate go tool modelgen --extended -p sb -o sb ovn-sb.ovsschema
//go:generate go tool modelgen --extended -p nb -o nb ovn-nb.ovsschema
