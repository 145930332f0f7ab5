package e2e

import (
	"net"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClustersUp checks what the rest of the suite relies on: both API
// servers answer with a real Kubernetes version, the controller manager
// has created the default ServiceAccount, and the kwok nodes are Ready with
// the capacity, labels and pod CIDRs the test bed gave them.
func TestClustersUp(t *testing.T) {
	for _, c := range tb.Clusters() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := ctxFor(t, time.Minute)
			v, err := c.Client.Discovery().ServerVersion()
			if err != nil {
				t.Fatalf("GET /version: %v", err)
			}
			if v.Major != "1" || !strings.HasPrefix(v.GitVersion, "v1.") {
				t.Errorf("unexpected server version %+v (ldflags not applied?)", v)
			}
			t.Logf("%s: %s at %s", c.Name, v.GitVersion, c.APIServer)

			if _, err := c.Client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
				t.Errorf("ServiceAccount default/default (made by kube-controller-manager): %v", err)
			}

			nodes, err := c.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
			if err != nil {
				t.Fatalf("list nodes: %v", err)
			}
			if len(nodes.Items) != c.Nodes {
				t.Fatalf("%d kwok nodes, want %d", len(nodes.Items), c.Nodes)
			}
			seen := map[string]string{}
			for _, n := range nodes.Items {
				checkNode(t, c, &n)
				if other, dup := seen[n.Spec.PodCIDR]; dup {
					t.Errorf("nodes %s and %s share pod CIDR %s", other, n.Name, n.Spec.PodCIDR)
				}
				seen[n.Spec.PodCIDR] = n.Name
			}
		})
	}
}

func checkNode(t *testing.T, c *Cluster, n *corev1.Node) {
	t.Helper()
	if n.Annotations["kwok.x-k8s.io/node"] != "fake" {
		t.Errorf("node %s: not annotated for kwok", n.Name)
	}
	ready := false
	for _, cond := range n.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			ready = true
		}
	}
	if !ready {
		t.Errorf("node %s: not Ready: %+v", n.Name, n.Status.Conditions)
	}
	want := map[corev1.ResourceName]string{
		corev1.ResourceCPU:    "4",
		corev1.ResourceMemory: "8Gi",
		corev1.ResourcePods:   "110",
	}
	for r, q := range want {
		got := n.Status.Capacity[r]
		if got.Cmp(resource.MustParse(q)) != 0 {
			t.Errorf("node %s: capacity %s = %s, want %s", n.Name, r, got.String(), q)
		}
		if a := n.Status.Allocatable[r]; a.IsZero() || a.Cmp(got) > 0 {
			t.Errorf("node %s: allocatable %s = %s, want 0 < allocatable <= capacity %s", n.Name, r, a.String(), got.String())
		}
	}
	if n.Labels[corev1.LabelArchStable] != "amd64" || n.Status.NodeInfo.Architecture != "amd64" {
		t.Errorf("node %s: arch label %q, nodeInfo.architecture %q, want amd64",
			n.Name, n.Labels[corev1.LabelArchStable], n.Status.NodeInfo.Architecture)
	}
	if n.Labels[corev1.LabelOSStable] != "linux" {
		t.Errorf("node %s: os label %q, want linux", n.Name, n.Labels[corev1.LabelOSStable])
	}
	_, cidr, err := net.ParseCIDR(n.Spec.PodCIDR)
	if err != nil {
		t.Errorf("node %s: podCIDR %q: %v", n.Name, n.Spec.PodCIDR, err)
	} else if !c.PodCIDR.Contains(cidr.IP) {
		t.Errorf("node %s: podCIDR %s outside the cluster's pod CIDR %s", n.Name, cidr, c.PodCIDR)
	}
	internal := ""
	for _, a := range n.Status.Addresses {
		if a.Type == corev1.NodeInternalIP {
			internal = a.Address
		}
	}
	if internal != "127.0.0.1" {
		t.Errorf("node %s: InternalIP %q, want 127.0.0.1 (kwok --node-ip)", n.Name, internal)
	}
	// The API server dials the kubelet API at this port (kwok --node-port).
	if c.KwokPort != 0 && int(n.Status.DaemonEndpoints.KubeletEndpoint.Port) != c.KwokPort {
		t.Errorf("node %s: daemonEndpoints.kubeletEndpoint.Port %d, want kwok's port %d",
			n.Name, n.Status.DaemonEndpoints.KubeletEndpoint.Port, c.KwokPort)
	}
}

// TestClustersIndependent checks that the two clusters really are separate:
// different etcd contents (kube-system UIDs, the cluster identity liqolet
// uses) and different certificate authorities (an admin certificate of one
// cluster is rejected by the other).
func TestClustersIndependent(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	uid := map[string]string{}
	for _, c := range tb.Clusters() {
		ns, err := c.Client.CoreV1().Namespaces().Get(ctx, "kube-system", metav1.GetOptions{})
		if err != nil {
			t.Fatalf("%s: get kube-system: %v", c.Name, err)
		}
		uid[c.Name] = string(ns.UID)
	}
	if uid["home"] == uid["foreign"] {
		t.Fatalf("home and foreign share the kube-system UID %s: same etcd?", uid["home"])
	}
	if tb.Home.APIServer == tb.Foreign.APIServer {
		t.Fatalf("home and foreign share the API server %s", tb.Home.APIServer)
	}
	// Home's admin credentials, foreign's server and CA: must be 401.
	cfg, err := restConfig(tb.Home.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	fcfg := tb.Foreign.Config
	cfg.Host = fcfg.Host
	cfg.TLSClientConfig.CAData = fcfg.TLSClientConfig.CAData
	cfg.TLSClientConfig.CAFile = fcfg.TLSClientConfig.CAFile
	err = expectUnauthorized(ctx, cfg)
	if err != nil {
		t.Errorf("home admin certificate against foreign: %v", err)
	}
}
