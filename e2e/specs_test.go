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

// The readiness spec breaks its own backend in one cluster (readiness off
// and on, then its pod deleted) and measures from every cluster; long, so
// it starts early too.
var _ = Describe("A backend's readiness and termination", SpecPriority(10), LabelGlobal, LabelFailover, LabelReadiness, func() {
	ReadinessSpec(inputFor(workload.SpecReadiness))
})

// The shapes users run: the seed's Service as written there, two ports,
// a service deleted and re-created.
var _ = Describe("Global service shapes", LabelGlobal, LabelShapes, func() {
	When("it is the seed's own Service (unnamed port 80, shared \"true\")", LabelShared, LabelAffinity, func() {
		SeedServiceSpec(inputFor(workload.SpecSeed))
	})
	When("it has two ports to the same target port", func() {
		MultiPortSpec(inputFor(workload.SpecMultiPort))
	})
	When("one cluster deletes and re-creates it", func() {
		RecreateSpec(inputFor(workload.SpecRecreate))
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

// The policy specs wait out dropped requests (a request timeout each), so
// they start early.
var _ = Describe("Network policy across clusters", SpecPriority(5), LabelPolicy, func() {
	When("the first cluster's backend admits the second cluster's clients only", func() {
		PolicySpec(inputFor(workload.SpecPolicy))
	})
})

var _ = Describe("Hubble", SpecPriority(5), LabelHubble, LabelPolicy, func() {
	HubbleSpec(inputFor(workload.SpecHubble))
})

var _ = Describe("Transparent encryption", LabelEncryption, func() {
	EncryptionSpec(input)
})

// The faults restart Cilium's pods and cut a cluster off: they disturb
// every spec's datapath, so they are Serial (after the parallel specs), and
// they probe their own service.
var _ = Describe("Faults", Serial, LabelFault, func() {
	When("one cluster's ClusterMesh API server restarts", func() {
		APIServerRestartSpec(inputFor(workload.SpecFaults))
	})
	When("one cluster's agent restarts", func() {
		AgentRestartSpec(inputFor(workload.SpecFaults))
	})
	When("one cluster is cut off from the others at the network", func() {
		PartitionSpec(inputFor(workload.SpecFaults))
	})
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
