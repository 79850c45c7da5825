// Package ovsdbmodel holds OVSDB schemas and the libovsdb models generated
// from them.
//
// The sidecar's clients use the slim models (slim/vswitch, slim/sb): only
// the columns it reads or writes, so that every release from Open vSwitch
// 2.17 and OVN 22.03 on validates them (libovsdb refuses a model column
// the server's schema lacks). releases/ holds the schemas of those
// releases. The full models here (Open vSwitch 3.1, OVN 23.03, as Debian
// 12 ships them) are for tests and tools: test servers, and the benchmark
// (internal/bench), which also writes Logical_Switch_Ports with nb.
package ovsdbmodel

//go:generate go tool modelgen --extended -p vswitch -o vswitch vswitch.ovsschema
//go:generate go tool modelgen --extended -p sb -o sb ovn-sb.ovsschema
//go:generate go tool modelgen --extended -p nb -o nb ovn-nb.ovsschema
