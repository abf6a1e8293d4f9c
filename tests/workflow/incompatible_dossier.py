"""A deliberately incompatible version of the dossier workflow, for the replay test: the
same name, one extra timer before the first plan. Kept apart from the test module so the
workflow sandbox imports only workflow code."""

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from relance.contracts.dossier import DossierWorkflowInput
    from relance_workflow.workflows.dossier import DossierWorkflow


@workflow.defn(name="DossierWorkflow")
class ReorderedDossierWorkflow(DossierWorkflow):
    @workflow.run
    async def run(self, input: DossierWorkflowInput) -> None:
        await workflow.sleep(timedelta(seconds=1))
        await super().run(input)
