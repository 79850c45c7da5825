// Package e2e tests the sidecar against a real OVS/OVN stack (see
// internal/stack). The tests need root and the Debian OVS/OVN packages
// (`make deps`), and the sidecar binary (`make build`, or
// OVN_VIF_SIDECAR_BIN). They fail, never skip, when any of that is missing.
package e2e
