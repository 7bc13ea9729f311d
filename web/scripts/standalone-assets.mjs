// The standalone server serves /_next/static and public/ only when they sit beside it: copy them there.
import { cpSync, existsSync, rmSync } from "node:fs";

const target = ".next/standalone";
rmSync(`${target}/.next/static`, { recursive: true, force: true });
cpSync(".next/static", `${target}/.next/static`, { recursive: true });
if (existsSync("public")) cpSync("public", `${target}/public`, { recursive: true });
