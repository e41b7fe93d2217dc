// Package controllers stands in for sigs.k8s.io/mcs-api/controllers, which the
// module proxy available to the lab does not serve. Cilium only reads one
// constant from it; everything else in that module is unused by the binaries
// we build.
package controllers

// DerivedServiceAnnotation is set on a ServiceImport to name the Service that
// was derived from it in the importing cluster (KEP-1645).
const DerivedServiceAnnotation = "multicluster.kubernetes.io/derived-service"
