// Entry of the facilitator console (`/` on the hub, the main window of the desktop app).
import "../lib/locale-guard"; // first: before uPlot reads the browser language
import { render } from "preact";
import "uplot/dist/uPlot.min.css";
import "../styles/base.css";
import "./console.css";
import { App } from "./App";

render(<App />, document.getElementById("app")!);
