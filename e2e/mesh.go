package e2e

import (
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
		for _, name := range e.Names() {
			By(fmt.Sprintf("[%s] asking every agent for its remote clusters", name))
			Expect(e.Agents.AwaitMeshConnected(ctx, name, iv.MeshReady, iv.Poll, GinkgoWriter)).To(Succeed())
			// The matrix of this spec counts connections, not requests:
			// one per remote cluster an agent of name sees connected.
			for _, other := range e.Others(name) {
				r.Tally.Add(name, other)
			}
		}
		r.Passed, r.Duration = true, time.Since(r.Started)
	})
}
