#!/usr/bin/env bash
# The seed's AKS lab as commands: three BYOCNI AKS clusters with kube-proxy
# disabled, each in its own VNet, the VNets joined through a Virtual WAN hub;
# then the suite's command line for them.
#
#   scripts/aks.sh up [--dry-run]     create the lab (or print what it would run)
#   scripts/aks.sh env                print the suite's command line for the lab
#   scripts/aks.sh down [--dry-run]   delete the lab's resource group, only if this script created it
#
# Ownership: the resource group is created with the tags
# created-by=clustermesh-e2e and run-id=<AKS_RUN_ID>; `down` deletes a resource
# group only when it carries created-by=clustermesh-e2e (and, when E2E_RUN_ID
# is set, run-id=E2E_RUN_ID), and `up` refuses to
# use a resource group that exists without it. Nothing outside that resource
# group (and AKS's own node resource groups, which Azure deletes with the
# clusters) is created.
#
# Settings (environment):
#   AKS_RESOURCE_GROUP  resource group of the lab            (default clustermesh-e2e)
#   AKS_LOCATION        Azure region                          (default westeurope)
#   AKS_PREFIX          name prefix of every resource         (default cmesh)
#   AKS_NODE_COUNT      nodes per cluster                     (default 2)
#   AKS_NODE_VM_SIZE    node VM size                          (default Standard_D2s_v5)
#   AKS_KUBECONFIG      kubeconfig file written by up         (default _artifacts/aks/kubeconfig)
#   E2E_RUN_ID          recorded in the tags; down then deletes only that run's group (default: the time, UTC)
#   AKS_ENV_FILE        when set, up also writes the suite's settings there as KEY=value lines
#                       (KUBE_CONTEXTS, POD_CIDRS, SERVICE_CIDRS, NODE_NETWORK, HELM_VALUES), for CI
# Needs the Azure CLI with the aks-preview extension (up adds it), logged in.
set -euo pipefail

RG="${AKS_RESOURCE_GROUP:-clustermesh-e2e}"
LOCATION="${AKS_LOCATION:-westeurope}"
PREFIX="${AKS_PREFIX:-cmesh}"
NODES="${AKS_NODE_COUNT:-2}"
VM_SIZE="${AKS_NODE_VM_SIZE:-Standard_D2s_v5}"
KUBECONFIG_OUT="${AKS_KUBECONFIG:-_artifacts/aks/kubeconfig}"
RUN_ID="${E2E_RUN_ID:-$(date -u +%Y%m%d-%H%M%S)}"
OWNER_TAG="created-by=clustermesh-e2e"
N=3

# The address plan: each cluster's nodes in 172.21.(9+i).0/24 (the seed's
# internal load balancers answered from 172.21.10-12.x), the hub beside them;
# pods and services in the suite's default, non-overlapping ranges.
node_subnet()  { echo "172.21.$((9 + $1)).0/24"; }
service_cidr() { echo "10.10$1.0.0/16"; }
dns_ip()       { echo "10.10$1.0.10"; }
pod_cidr()     { echo "10.$1.0.0/16"; }
HUB_PREFIX="172.21.0.0/24"
NODE_NETWORK="172.21.8.0/21"

cluster_name() { echo "${PREFIX}-cluster-$1"; }
context_name() { echo "aks-cluster-$1"; }

DRY_RUN=0
run() {
  printf '+ %s\n' "$*" >&2
  [ "$DRY_RUN" = 1 ] && return 0
  "$@"
}
die() { echo "aks.sh: $*" >&2; exit 1; }

need_az() {
  [ "$DRY_RUN" = 1 ] && return 0
  command -v az >/dev/null || die "the Azure CLI (az) is not installed; 'az login' (or azure/login in CI) first"
  az account show >/dev/null 2>&1 || die "not logged in to Azure: run 'az login' (or azure/login with OIDC in CI)"
}

# rg_owned prints yes, no or absent for the lab's resource group.
rg_owned() {
  if [ "$DRY_RUN" = 1 ]; then echo absent; return; fi
  if [ "$(az group exists -n "$RG")" != true ]; then echo absent; return; fi
  local tag run
  tag=$(az group show -n "$RG" --query "tags.\"created-by\"" -o tsv 2>/dev/null || true)
  run=$(az group show -n "$RG" --query "tags.\"run-id\"" -o tsv 2>/dev/null || true)
  if [ "$tag" != clustermesh-e2e ]; then echo no; return; fi
  if [ -n "${E2E_RUN_ID:-}" ] && [ "$run" != "$E2E_RUN_ID" ]; then echo other-run; return; fi
  echo yes
}

up() {
  need_az
  case "$(rg_owned)" in
    no) die "resource group $RG exists and was not created by this script (no tag $OWNER_TAG): choose another AKS_RESOURCE_GROUP" ;;
    other-run) die "resource group $RG belongs to another run than E2E_RUN_ID=$E2E_RUN_ID: choose another AKS_RESOURCE_GROUP" ;;
    yes) echo "resource group $RG exists and is the lab's: creating what is missing" >&2 ;;
    absent) run az group create -n "$RG" -l "$LOCATION" --tags "$OWNER_TAG" "run-id=$RUN_ID" -o none ;;
  esac
  local kp
  kp=$(mktemp)
  trap 'rm -f "$kp"' RETURN
  # The seed's kube-proxy.json: kube-proxy off, Cilium replaces it.
  printf '{\n  "enabled": false\n}\n' >"$kp"
  # --kube-proxy-config is a parameter of the aks-preview extension.
  run az extension add --name aks-preview --upgrade -o none

  run az network vwan create -g "$RG" -n "$PREFIX-vwan" -l "$LOCATION" --type Standard -o none
  run az network vhub create -g "$RG" -n "$PREFIX-hub" --vwan "$PREFIX-vwan" -l "$LOCATION" --address-prefix "$HUB_PREFIX" -o none
  for i in $(seq 1 $N); do
    local vnet="$PREFIX-vnet-$i"
    run az network vnet create -g "$RG" -n "$vnet" -l "$LOCATION" --address-prefixes "$(node_subnet "$i")" \
      --subnet-name nodes --subnet-prefixes "$(node_subnet "$i")" -o none
    run az network vhub connection create -g "$RG" --vhub-name "$PREFIX-hub" -n "$PREFIX-conn-$i" --remote-vnet "$vnet" -o none
  done
  mkdir -p "$(dirname "$KUBECONFIG_OUT")"
  for i in $(seq 1 $N); do
    local name subnet_id
    name=$(cluster_name "$i")
    if [ "$DRY_RUN" = 1 ]; then
      subnet_id="<id of $PREFIX-vnet-$i/nodes>"
    else
      subnet_id=$(az network vnet subnet show -g "$RG" --vnet-name "$PREFIX-vnet-$i" -n nodes --query id -o tsv)
    fi
    # BYOCNI (--network-plugin none): Cilium is the CNI, installed by the suite.
    run az aks create -g "$RG" -n "$name" -l "$LOCATION" --network-plugin none \
      --vnet-subnet-id "$subnet_id" --service-cidr "$(service_cidr "$i")" --dns-service-ip "$(dns_ip "$i")" \
      --node-count "$NODES" --node-vm-size "$VM_SIZE" --generate-ssh-keys \
      --tags "$OWNER_TAG" "run-id=$RUN_ID" -o none
    # The seed disables kube-proxy in place.
    run az aks update -g "$RG" -n "$name" --kube-proxy-config "$kp" -o none
    run az aks get-credentials -g "$RG" -n "$name" --context "$(context_name "$i")" --file "$KUBECONFIG_OUT" --overwrite-existing
  done
  values
  if [ -n "${AKS_ENV_FILE:-}" ]; then
    if [ "$DRY_RUN" = 1 ]; then echo "+ write $AKS_ENV_FILE" >&2; else settings >"$AKS_ENV_FILE"; fi
  fi
  echo "lab up; run the suite with:" >&2
  env_line
}

# values writes one Helm values file per cluster with the resource group
# (azure.resourceGroup, the seed's set11).
values() {
  local dir
  dir="$(dirname "$KUBECONFIG_OUT")"
  for i in $(seq 1 $N); do
    if [ "$DRY_RUN" = 1 ]; then
      echo "+ write $dir/cluster-$i-values.yaml (azure.resourceGroup: $RG)" >&2
      continue
    fi
    printf 'azure:\n  resourceGroup: %s\n' "$RG" >"$dir/cluster-$i-values.yaml"
  done
}

# settings prints the suite's settings for the lab as KEY=value lines.
settings() {
  local dir
  dir="$(dirname "$KUBECONFIG_OUT")"
  echo "KUBE_CONTEXTS=$(for i in $(seq 1 $N); do context_name "$i"; done | paste -sd,)"
  echo "POD_CIDRS=$(for i in $(seq 1 $N); do pod_cidr "$i"; done | paste -sd,)"
  echo "SERVICE_CIDRS=$(for i in $(seq 1 $N); do service_cidr "$i"; done | paste -sd,)"
  echo "NODE_NETWORK=$NODE_NETWORK"
  echo "HELM_VALUES=$(for i in $(seq 1 $N); do echo "cluster-$i=$dir/cluster-$i-values.yaml"; done | paste -sd,)"
}

env_line() {
  printf 'KUBECONFIG=%s PROVIDER=existing PROFILE=aks IMAGE_SOURCE=upstream \\\n' "$KUBECONFIG_OUT"
  settings | sed 's/$/ \\/'
  echo "make e2e-run"
}

down() {
  need_az
  case "$(rg_owned)" in
    absent) echo "resource group $RG does not exist: nothing to delete" >&2 ;;
    no) die "resource group $RG was not created by this script (no tag $OWNER_TAG): refusing to delete it" ;;
    other-run) die "resource group $RG belongs to another run than E2E_RUN_ID=$E2E_RUN_ID: refusing to delete it" ;;
    yes) run az group delete -n "$RG" --yes --no-wait ;;
  esac
}

verb="${1:-}"
shift || true
for a in "$@"; do
  case "$a" in
    --dry-run) DRY_RUN=1 ;;
    *) die "unknown argument $a (usage: scripts/aks.sh up|down|env [--dry-run])" ;;
  esac
done
case "$verb" in
  up) up ;;
  down) down ;;
  env) env_line ;;
  *) die "usage: scripts/aks.sh up|down|env [--dry-run]" ;;
esac
