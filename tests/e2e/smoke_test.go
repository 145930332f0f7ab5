package e2e

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSmokePodLifecycle uses client-go alone.  In each cluster (foreign
// first: that is where liqolet's offloaded pods will run) it creates a pod
// without a node name, and checks that the scheduler binds it to a kwok node,
// kwok reports it Running with a pod IP from that node's pod CIDR (inside the
// cluster's pod CIDR), and that deleting the namespace completes (namespace
// controller + kwok's pod deletion).
func TestSmokePodLifecycle(t *testing.T) {
	for _, c := range []*Cluster{tb.Foreign, tb.Home} {
		t.Run(c.Name, func(t *testing.T) {
			ctx := ctxFor(t, 3*time.Minute)
			ns := c.Namespace(t)
			pods := c.Client.CoreV1().Pods(ns)
			pod, err := pods.Create(ctx, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "smoke", Labels: map[string]string{"app": "smoke"}},
				Spec: corev1.PodSpec{
					Containers: []corev1.Container{{
						Name:  "main",
						Image: "registry.invalid/liqolet/smoke:1", // never pulled: kwok fakes the kubelet
						Resources: corev1.ResourceRequirements{
							Requests: corev1.ResourceList{
								corev1.ResourceCPU:    mustQuantity("100m"),
								corev1.ResourceMemory: mustQuantity("64Mi"),
							},
						},
					}},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatalf("create pod: %v", err)
			}

			Eventually(t, time.Minute, "pod Running with a pod IP", func(ctx context.Context) (bool, error) {
				pod, err = pods.Get(ctx, "smoke", metav1.GetOptions{})
				if err != nil {
					return false, err
				}
				return pod.Status.Phase == corev1.PodRunning && pod.Status.PodIP != "", nil
			})

			if !podReady(pod) {
				t.Errorf("pod Running but not Ready: %+v", pod.Status.Conditions)
			}
			if len(pod.Status.ContainerStatuses) != 1 || pod.Status.ContainerStatuses[0].State.Running == nil {
				t.Errorf("container not reported running: %+v", pod.Status.ContainerStatuses)
			}
			node, err := c.Client.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				t.Fatalf("get node %q of the pod: %v", pod.Spec.NodeName, err)
			}
			if node.Annotations["kwok.x-k8s.io/node"] != "fake" {
				t.Errorf("pod bound to %s, which is not a kwok node", node.Name)
			}
			ip := net.ParseIP(pod.Status.PodIP)
			if ip == nil {
				t.Fatalf("pod IP %q does not parse", pod.Status.PodIP)
			}
			if !c.PodCIDR.Contains(ip) {
				t.Errorf("pod IP %s outside the cluster's pod CIDR %s", ip, c.PodCIDR)
			}
			if _, nodeCIDR, err := net.ParseCIDR(node.Spec.PodCIDR); err != nil || !nodeCIDR.Contains(ip) {
				t.Errorf("pod IP %s outside node %s's pod CIDR %q (%v)", ip, node.Name, node.Spec.PodCIDR, err)
			}
			if pod.Status.HostIP != "127.0.0.1" {
				t.Errorf("hostIP %q, want 127.0.0.1", pod.Status.HostIP)
			}
			t.Logf("%s: pod %s/%s on %s, IP %s", c.Name, ns, pod.Name, node.Name, ip)

			// Namespace deletion must complete: the pod goes (kwok deletes it
			// with grace period 0) and the namespace controller finalizes.
			if err := c.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
				t.Fatalf("delete namespace: %v", err)
			}
			Eventually(t, 2*time.Minute, fmt.Sprintf("namespace %s gone", ns), func(ctx context.Context) (bool, error) {
				_, err := c.Client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
				if apierrors.IsNotFound(err) {
					return true, nil
				}
				return false, err
			})
			if _, err := pods.Get(ctx, "smoke", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("pod still readable after its namespace is gone: %v", err)
			}
		})
	}
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
