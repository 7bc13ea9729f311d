"use client";

// Inside the app shell, the same panel as outside it: one error page for the whole web.
export { default } from "../error";
