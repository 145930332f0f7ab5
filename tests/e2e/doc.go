// Package e2e holds liqolet's end-to-end tests.  They run against two real
// Kubernetes control planes ("home" and "foreign") started by tools/testbed;
// see docs/testing.md, section "Test clusters".
//
// Run them with `make e2e` from the repository root, or, after
// `tools/testbed bins`, with `go test -v ./...` in this directory.  TestMain
// reuses clusters that are already up (tools/testbed status) and leaves them
// running; otherwise it starts them and stops them at the end.
package e2e
