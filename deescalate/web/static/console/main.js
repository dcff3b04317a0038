// Agent console: live queue, case view, suggestions, draft taboo check, case record.
// Every string from the server is shown with textContent, never as HTML.
import { PAGE } from "./common.js";
import { casePage } from "./case.js";
import { queuePage } from "./queue.js";
import { openStream } from "./stream.js";

if (PAGE && PAGE.dataset.page === "queue") queuePage();
else if (PAGE && PAGE.dataset.page === "case") casePage();
else if (document.getElementById("risk-banner")) openStream("", {});
