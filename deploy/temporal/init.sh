#!/bin/sh
# Registers the Temporal namespace and the typed search attributes the Relance workflows
# set (keep in step with relance.search_attributes.ALL). Idempotent: anything already
# registered is left as it is. Runs in the temporalio/admin-tools image.
set -eu

ADDRESS="${TEMPORAL_ADDRESS:-temporal:7233}"
NS="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"

attempt=0
until temporal operator cluster health --address "$ADDRESS" 2>/dev/null | grep -q SERVING; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 90 ]; then
        echo "Temporal at $ADDRESS is not serving" >&2
        exit 1
    fi
    sleep 2
done

if temporal operator namespace describe --address "$ADDRESS" --namespace "$NS" >/dev/null 2>&1; then
    echo "namespace $NS already registered"
else
    temporal operator namespace create --address "$ADDRESS" --namespace "$NS" --retention "$RETENTION"
fi

# A new namespace becomes visible to the search-attribute API after a cache refresh.
attempt=0
until registered="$(temporal operator search-attribute list --address "$ADDRESS" --namespace "$NS" 2>/dev/null)"; do
    attempt=$((attempt + 1))
    if [ "$attempt" -ge 60 ]; then
        echo "namespace $NS did not become usable" >&2
        exit 1
    fi
    sleep 2
done

has() {
    echo "$registered" | grep -qw "$1"
}

has RelanceClientCode || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceClientCode --type Keyword
has RelanceCollector || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceCollector --type Keyword
has RelanceDossierState || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceDossierState --type Keyword
has RelanceNextActionAt || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceNextActionAt --type Datetime
has RelanceTransferState || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceTransferState --type Keyword
has RelanceAgency || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceAgency --type Keyword
has RelanceAgencyAnswerOverdue || temporal operator search-attribute create --address "$ADDRESS" --namespace "$NS" --name RelanceAgencyAnswerOverdue --type Bool

temporal operator search-attribute list --address "$ADDRESS" --namespace "$NS"
