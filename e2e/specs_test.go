package e2e

import (
	. "github.com/onsi/ginkgo/v2"

	"github.com/clustermesh-conformance/clustermesh-e2e/fixtures/workload"
)

// The specs, one Describe per area. Each spec that changes something owns
// what it changes: its own global service (workload.ServiceFor), and its
// own backend deployment when it scales backends away. So specs run in
// parallel Ginkgo processes and restore nothing. Only specs that disturb the
// whole mesh are Serial.

// Upgrade mode (UPGRADE_FROM) runs first: the clusters come up on the old
// version and every other spec runs on the mesh this upgrades. Without
// UPGRADE_FROM its steps are skipped, with the reason. It restarts every
// agent, so it is Serial; and since Ginkgo runs Serial specs after the
// parallel ones, upgrade mode needs one process (TestE2E refuses more).
var _ = Describe("Upgrading Cilium one cluster at a time", Ordered, Serial, LabelUpgrade, SpecPriority(100), func() {
	UpgradeSpec(upgradeInput, clusterNames())
})

var _ = Describe("ClusterMesh", LabelMesh, func() {
	MeshHealthSpec(input)
})

var _ = Describe("A global service", LabelGlobal, func() {
	GlobalServiceSpec(inputFor(workload.SpecGlobal))

	When("the first cluster stops sharing its backends", LabelShared, func() {
		SharedSpec(inputFor(workload.SpecShared))
	})

	When("the first cluster does not share and the second prefers remote backends (the seed's case)", LabelShared, LabelAffinity, func() {
		CombinedSpec(inputFor(workload.SpecCombined))
	})
})

// The affinity specs scale backends away and back from every source: the
// longest ones, so they start first and run side by side.
var _ = Describe("Service affinity", SpecPriority(10), LabelGlobal, LabelAffinity, func() {
	When(`affinity is "local"`, LabelFailover, func() {
		AffinityLocalSpec(inputFor(workload.SpecAffinityLocal))
	})
	When(`affinity is "remote"`, LabelFailover, func() {
		AffinityRemoteSpec(inputFor(workload.SpecAffinityRemote))
	})
	When(`affinity is "none"`, LabelFailover, func() {
		AffinityNoneSpec(inputFor(workload.SpecAffinityNone))
	})
})

var _ = Describe("Annotations changed at run time", LabelGlobal, LabelAffinity, LabelRuntime, func() {
	RuntimeChangesSpec(inputFor(workload.SpecRuntime))
})

var _ = Describe("The Multi-Cluster Services API", LabelMCS, func() {
	MCSAPISpec(inputFor(workload.SpecMCS))
})

var _ = Describe("Pod IP routing", LabelRouting, func() {
	PodIPRoutingSpec(input)
})

// clusterNames are the configured clusters, in order: the tree is built
// after the configuration is loaded.
func clusterNames() []string {
	names := make([]string, len(cfg.Clusters))
	for i, c := range cfg.Clusters {
		names[i] = c.Name
	}
	return names
}
