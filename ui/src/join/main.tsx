// Entry of the participants' join page (`/join?room=CODE`).
import { render } from "preact";
import "../styles/base.css";
import "./join.css";
import { JoinPage } from "./JoinPage";

render(<JoinPage />, document.getElementById("app")!);
