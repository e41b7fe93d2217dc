module sigs.k8s.io/mcs-api/conformance

go 1.22
