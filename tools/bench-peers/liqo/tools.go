//go:build tools

// Package tools keeps the dependencies of Liqo's virtual kubelet
// (github.com/liqotech/liqo/cmd/virtual-kubelet, a main package that cannot be
// imported) in this module's go.mod/go.sum, so `go build` can build it from here.
package tools

import (
	_ "github.com/liqotech/liqo/cmd/virtual-kubelet/root"
	_ "github.com/virtual-kubelet/virtual-kubelet/log/klogv2"
)
