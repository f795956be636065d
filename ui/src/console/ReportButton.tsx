// The "Report" button of a session (past sessions, and the summary shown when one ends): it
// fetches the session's report page from the hub with the admin token and saves it as a file
// the facilitator can open, print to PDF or hand out.
import type { HubApi } from "../backend/api";
import { saveFile } from "../lib/save-file";
import { useAction } from "./hooks";
import { Problem } from "./Problem";

export function ReportButton(props: { api: HubApi; sessionId: string; label?: string }) {
  const action = useAction();
  return (
    <>
      <button
        type="button"
        class="quiet"
        data-testid="report-button"
        disabled={action.pending}
        title="Save this session's report (a page to open, print or share)"
        onClick={() =>
          action.run(async () => {
            const { blob, fileName } = await props.api.sessionReport(props.sessionId, "html");
            saveFile(blob, fileName);
          })
        }
      >
        {action.pending ? "Preparing…" : (props.label ?? "Report")}
      </button>
      <Problem message={action.error} />
    </>
  );
}
