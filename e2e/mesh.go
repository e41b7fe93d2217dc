package e2e

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// SpecInput is what every spec function gets: the run's environment,
// resolved when the spec runs (after the suite's setup).
type SpecInput struct {
	Env *Env
}

// MeshHealthSpec: every agent of every cluster reports every other cluster
// connected and ready.
func MeshHealthSpec(input func() SpecInput) {
	It("has every cluster connected to the other clusters, in every agent", func(ctx SpecContext) {
		e := input().Env
		iv := e.Intervals()
		r := e.Book.New("remote clusters connected", e.Names()...)
		var lines []string
		for _, name := range e.Names() {
			By(fmt.Sprintf("[%s] asking every agent for its remote clusters", name))
			Eventually(ctx, func(ctx context.Context) error {
				seen, err := e.Agents.MeshConnected(ctx, name)
				lines = lines[:0:0]
				for pod, remotes := range seen {
					for _, rc := range remotes {
						lines = append(lines, fmt.Sprintf("[%s] %s: %s connected=%t ready=%t", name, pod, rc.Name, rc.Connected, rc.Ready))
					}
				}
				return err
			}).WithTimeout(iv.MeshReady).WithPolling(iv.Poll).Should(Succeed())
			for _, l := range lines {
				fmt.Fprintln(GinkgoWriter, l)
			}
			// The matrix of this spec counts connections, not requests:
			// one per remote cluster an agent of name sees connected.
			for _, other := range e.Others(name) {
				r.Tally.Add(name, other)
			}
		}
		r.Passed, r.Duration = true, time.Since(r.Started)
	})
}
