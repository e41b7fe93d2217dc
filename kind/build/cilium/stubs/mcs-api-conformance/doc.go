// Package conformance stands in for sigs.k8s.io/mcs-api/conformance, which the
// module proxy available to the lab does not serve. Only a Cilium test imports
// it; the go.mod must still resolve for the module graph to load.
package conformance
