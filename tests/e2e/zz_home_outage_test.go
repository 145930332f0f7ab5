package e2e

// The home-outage test of EndpointSlice readiness gating (issue 13). It stops the home
// kube-apiserver; afterwards kwok 0.8.0 may rewrite a home node's status without its
// addresses for 10-20 minutes, which breaks tests that reach a home kwok node's kubelet
// API. The file name makes it sort after every other test file, so it runs last in a
// full run.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// expReady lists the ready condition of each endpoint of the remote slice ("t", "f", or
// "-" when unset).
func expReady(s *discoveryv1.EndpointSlice) string {
	var b strings.Builder
	for _, ep := range s.Endpoints {
		switch {
		case ep.Conditions.Ready == nil:
			b.WriteByte('-')
		case *ep.Conditions.Ready:
			b.WriteByte('t')
		default:
			b.WriteByte('f')
		}
	}
	return b.String()
}

// expWaitRemoteReady waits until the remote slice's endpoints show ready states want (as
// expReady writes them), reading the foreign cluster only.
func (e *cfgEnv) expWaitRemoteReady(t *testing.T, timeout time.Duration, name, want, what string) {
	t.Helper()
	e.poll(t, timeout, what, func(ctx context.Context) (string, error) {
		r, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "no remote slice " + name, nil
		}
		if err != nil {
			return "", err
		}
		if got := expReady(r); got != want {
			return fmt.Sprintf("remote endpoints ready %q, want %q", got, want), nil
		}
		return "", nil
	})
}

// TestEndpointSlicesGatedOnHome: Liqo gates the readiness of reflected endpoints on
// peering health. With the home API server stopped, every endpoint of the reflected slice
// turns not ready (the agent keeps running); a foreign user who marks one ready again is
// put back; when home returns, the slice is the home slice's reflection again. It stops
// the home API server, so it waits at the end until the home kwok nodes are Ready again.
func TestEndpointSlicesGatedOnHome(t *testing.T) {
	e := expStart(t)
	ctx := ctxFor(t, 10*time.Minute)
	svc := expService("gated", "none")
	svc.Spec.Selector = nil
	if _, err := tb.Home.Client.CoreV1().Services(e.ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	node, port, proto, pname := "some-home-node", int32(8080), corev1.ProtocolTCP, "http"
	hs := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "gated-1", Labels: map[string]string{
			expServiceName: "gated", expManagedBy: "user.example.com"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{
			{Addresses: []string{"10.10.9.1"}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: &yes}},
			{Addresses: []string{"10.10.9.2"}, NodeName: &node},
			{Addresses: []string{"10.10.9.3"}, NodeName: &node, Conditions: discoveryv1.EndpointConditions{Ready: &no}},
		},
		Ports: []discoveryv1.EndpointPort{{Name: &pname, Port: &port, Protocol: &proto}},
	}
	if _, err := tb.Home.Client.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, hs, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitSvc(t, "gated", nil)
	e.waitSlices(t, "gated", nil)
	e.expWaitRemoteReady(t, cfgTimeout, "gated-1", "ttf", "reflected slice with its home readiness")

	if out, err := tb.Run("stop-apiserver", "home"); err != nil {
		t.Cleanup(func() { _, _ = tb.Run("start-apiserver", "home") })
		t.Fatalf("stop-apiserver home: %v\n%s", err, out)
	}
	down := true
	t.Cleanup(func() {
		if down {
			if out, err := tb.Run("start-apiserver", "home"); err != nil {
				t.Errorf("start-apiserver home (cleanup): %v\n%s", err, out)
			}
		}
	})
	stopped := time.Now()
	e.expWaitRemoteReady(t, 2*time.Minute, "gated-1", "fff", "every remote endpoint not ready while home is down")
	t.Logf("endpoints not ready %v after the home API server stopped", time.Since(stopped).Round(100*time.Millisecond))

	// Hostile: a foreign user marks an endpoint ready again while home is down.
	if _, err := tb.Foreign.Client.DiscoveryV1().EndpointSlices(e.remote).Patch(ctx, "gated-1", types.JSONPatchType,
		[]byte(`[{"op":"replace","path":"/endpoints/0/conditions/ready","value":true}]`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.expWaitRemoteReady(t, time.Minute, "gated-1", "fff", "the foreign edit put back (not ready) while home is down")

	if out, err := tb.Run("start-apiserver", "home"); err != nil {
		t.Fatalf("start-apiserver home: %v\n%s", err, out)
	}
	down = false
	back := time.Now()
	e.expWaitRemoteReady(t, 2*time.Minute, "gated-1", "ttf", "the home readiness back after home returned")
	t.Logf("endpoints ready again %v after the home API server returned", time.Since(back).Round(100*time.Millisecond))
	e.waitSlices(t, "gated", nil)

	// Tests after this one need the home kwok nodes Ready (the lifecycle controller may
	// have marked them while their leases could not be renewed). kwok 0.8.0 may also
	// rewrite a node's status without its addresses some time after the outage (seen on
	// home-node-1; its heartbeat puts them back 10-20 minutes later), which is why this
	// file sorts last.
	e.poll(t, 2*time.Minute, "home kwok nodes Ready after the outage", func(ctx context.Context) (string, error) {
		nl, err := tb.Home.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=kwok"})
		if err != nil {
			return "", err
		}
		for _, n := range nl.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status != corev1.ConditionTrue {
					return "node " + n.Name + " not Ready", nil
				}
			}
			for _, tn := range n.Spec.Taints {
				if tn.Key == corev1.TaintNodeUnreachable || tn.Key == corev1.TaintNodeNotReady {
					return "node " + n.Name + " still tainted " + tn.Key, nil
				}
			}
		}
		return "", nil
	})
}
