//go:build e2e

// Package e2e tests the sidecar against a real OVS/OVN stack (see
// internal/stack). The files carry the e2e build tag, so `go test ./...`
// leaves them out; `make e2e` (or `go test -tags e2e ./e2e/...`) runs
// them. They need root and the Debian OVS/OVN packages (`make deps`), and
// fail, never skip, when either is missing. TestMain builds the sidecar
// from this tree, so a stale binary is never tested; OVN_VIF_SIDECAR_BIN
// names another binary to test instead.
package e2e
