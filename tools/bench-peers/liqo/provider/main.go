// Command liqo-provider runs, against one (the provider's, "foreign") cluster,
// Liqo v1.2.0's own ShadowPod controller -- the part of liqo-controller-manager
// that turns the ShadowPods a consumer's virtual kubelet creates into Pods,
// owns them, and mirrors their phase into the ShadowPod status.
//
// The reconciler is imported unchanged from
// github.com/liqotech/liqo/pkg/liqo-controller-manager/offloading/shadowpod-controller;
// the manager is set up as cmd/liqo-controller-manager sets it up (scheme with
// Liqo's API groups, Liqo's REST mapper, Liqo's client rate limiter, 10 workers
// by default), without the other controllers, webhooks, metrics, health probes
// or leader election, which the ShadowPod path does not use.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics/server"

	authv1beta1 "github.com/liqotech/liqo/apis/authentication/v1beta1"
	liqov1beta1 "github.com/liqotech/liqo/apis/core/v1beta1"
	ipamv1alpha1 "github.com/liqotech/liqo/apis/ipam/v1alpha1"
	networkingv1beta1 "github.com/liqotech/liqo/apis/networking/v1beta1"
	offloadingv1beta1 "github.com/liqotech/liqo/apis/offloading/v1beta1"
	shadowpodctrl "github.com/liqotech/liqo/pkg/liqo-controller-manager/offloading/shadowpod-controller"
	"github.com/liqotech/liqo/pkg/utils/mapper"
	"github.com/liqotech/liqo/pkg/utils/restcfg"
)

func main() {
	if err := run(); err != nil {
		klog.Error(err)
		os.Exit(1)
	}
}

func run() error {
	workers := pflag.Int("shadow-pod-ctrl-workers", 10,
		"The number of workers used to reconcile ShadowPod resources (liqo-controller-manager's flag and default).")
	restcfg.InitFlags(pflag.CommandLine) // --client-qps, --client-max-burst (Liqo's defaults: 100, 100)
	klogFlags := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(klogFlags)
	pflag.CommandLine.AddGoFlagSet(klogFlags)
	pflag.CommandLine.AddGoFlagSet(flag.CommandLine) // --kubeconfig, registered by controller-runtime
	pflag.Parse()

	log.SetLogger(klog.NewKlogr())

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme,
		liqov1beta1.AddToScheme,
		offloadingv1beta1.AddToScheme,
		ipamv1alpha1.AddToScheme,
		networkingv1beta1.AddToScheme,
		authv1beta1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return fmt.Errorf("building the scheme: %w", err)
		}
	}

	config := restcfg.SetRateLimiter(ctrl.GetConfigOrDie())

	mgr, err := ctrl.NewManager(config, ctrl.Options{
		MapperProvider:         mapper.LiqoMapperProvider(scheme),
		Scheme:                 scheme,
		Metrics:                server.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
	})
	if err != nil {
		return fmt.Errorf("manager creation failed: %w", err)
	}

	reconciler := &shadowpodctrl.Reconciler{
		Client:   mgr.GetClient(),
		Scheme:   mgr.GetScheme(),
		Recorder: mgr.GetEventRecorderFor("shadowpod-controller"),
	}
	if err := reconciler.SetupWithManager(mgr, *workers); err != nil {
		return fmt.Errorf("unable to set up the shadowpod reconciler: %w", err)
	}

	klog.Infof("starting Liqo's ShadowPod controller (%d workers)", *workers)
	return mgr.Start(ctrl.SetupSignalHandler())
}
