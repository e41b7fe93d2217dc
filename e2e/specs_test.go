package e2e

import (
	. "github.com/onsi/ginkgo/v2"
)

// The specs, one Describe per area. Every spec changes shared state (the
// services' annotations, the app's replicas) and restores it, so they run
// one at a time.

// Upgrade mode (UPGRADE_FROM) runs first: the clusters come up on the old
// version and every other spec runs on the mesh this upgrades. Without
// UPGRADE_FROM its steps are skipped, with the reason.
var _ = Describe("Upgrading Cilium one cluster at a time", Ordered, Serial, LabelUpgrade, SpecPriority(100), func() {
	UpgradeSpec(upgradeInput, clusterNames())
})

var _ = Describe("ClusterMesh", Serial, LabelMesh, func() {
	MeshHealthSpec(input)
})

var _ = Describe("A global service", Serial, LabelGlobal, func() {
	GlobalServiceSpec(input)

	When("the first cluster stops sharing its backends", LabelShared, func() {
		SharedSpec(input)
	})

	When("the first cluster does not share and the second prefers remote backends (the seed's case)", LabelShared, LabelAffinity, func() {
		CombinedSpec(input)
	})
})

var _ = Describe("Service affinity", Serial, LabelGlobal, LabelAffinity, func() {
	When(`affinity is "local"`, LabelFailover, func() {
		AffinityLocalSpec(input)
	})
	When(`affinity is "remote"`, LabelFailover, func() {
		AffinityRemoteSpec(input)
	})
	When(`affinity is "none"`, LabelFailover, func() {
		AffinityNoneSpec(input)
	})
})

var _ = Describe("Annotations changed at run time", Serial, LabelGlobal, LabelAffinity, LabelRuntime, func() {
	RuntimeChangesSpec(input)
})

var _ = Describe("Pod IP routing", Serial, LabelRouting, func() {
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
