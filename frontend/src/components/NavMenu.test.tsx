// @vitest-environment jsdom
import axe from "axe-core";
import { act } from "react";
import { createRoot, type Root } from "react-dom/client";
import { MemoryRouter, Route, Routes } from "react-router";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { NavMenu } from "./NavMenu";

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

const LINKS = [
  { to: "/admin", label: "Administration", end: true },
  { to: "/admin/people", label: "People" },
  { to: "/admin/prompts", label: "Prompts and experiments" },
];

let container: HTMLDivElement;
let root: Root;

function render(path = "/learning") {
  act(() =>
    root.render(
      <MemoryRouter initialEntries={[path]}>
        <nav aria-label="Main">
          <a href="/learning">My learning</a>
          <NavMenu label="Admin" links={LINKS} />
        </nav>
        <button type="button">Elsewhere</button>
        <Routes>
          <Route path="*" element={<h1>page</h1>} />
        </Routes>
      </MemoryRouter>,
    ),
  );
}

const button = () => container.querySelector<HTMLButtonElement>("button.nav-menu-button")!;
const panel = () => document.getElementById(button().getAttribute("aria-controls")!)!;
const link = (name: string) => [...panel().querySelectorAll("a")].find((a) => a.textContent === name)!;
const key = (target: Element, name: string) =>
  act(() => {
    target.dispatchEvent(new KeyboardEvent("keydown", { key: name, bubbles: true }));
  });

beforeEach(() => {
  container = document.createElement("div");
  document.body.append(container);
  root = createRoot(container);
});

afterEach(() => {
  act(() => root.unmount());
  container.remove();
});

describe("NavMenu", () => {
  it("is a disclosure: a button controlling a hidden list of links", async () => {
    render();
    expect(button().textContent).toContain("Admin");
    expect(button().getAttribute("aria-expanded")).toBe("false");
    expect(panel().tagName).toBe("UL");
    expect(panel().hidden).toBe(true);
    act(() => button().click()); // Enter and Space on a native button click it
    expect(button().getAttribute("aria-expanded")).toBe("true");
    expect(panel().hidden).toBe(false);
    // Plain links in the tab order (no menu roles, no roving tabindex).
    const links = [...panel().querySelectorAll("a")];
    expect(links.map((a) => a.textContent)).toEqual(["Administration", "People", "Prompts and experiments"]);
    expect(links.every((a) => a.tabIndex === 0 && !a.hasAttribute("role"))).toBe(true);
    const results = await axe.run(container, { runOnly: ["wcag2a", "wcag2aa"] });
    expect(results.violations.map((v) => v.id)).toEqual([]);
    act(() => button().click());
    expect(button().getAttribute("aria-expanded")).toBe("false");
  });

  it("closes on Escape from a link and gives focus back to the button", () => {
    render();
    act(() => button().click());
    act(() => link("People").focus());
    key(link("People"), "Escape");
    expect(panel().hidden).toBe(true);
    expect(document.activeElement).toBe(button());
    key(button(), "Escape"); // closed already: nothing happens
    expect(panel().hidden).toBe(true);
  });

  it("closes when a link is followed, on a click outside and when focus leaves the group", () => {
    render();
    act(() => button().click());
    act(() => link("People").click());
    expect(panel().hidden).toBe(true);
    expect(container.querySelector("h1")).not.toBeNull();
    expect(link("People").getAttribute("aria-current")).toBe("page");
    expect(button().classList.contains("active")).toBe(true); // the page is one of the group's

    act(() => button().click());
    act(() => {
      document.body.dispatchEvent(new Event("pointerdown", { bubbles: true }));
    });
    expect(panel().hidden).toBe(true);

    act(() => button().click());
    act(() => link("Prompts and experiments").focus());
    act(() => container.querySelector<HTMLButtonElement>("button:not(.nav-menu-button)")!.focus());
    expect(panel().hidden).toBe(true);
  });

  it("a click inside the group keeps it open; a page outside the group leaves the button unmarked", () => {
    render("/learning");
    expect(button().classList.contains("active")).toBe(false);
    act(() => button().click());
    act(() => {
      panel().dispatchEvent(new Event("pointerdown", { bubbles: true }));
    });
    expect(panel().hidden).toBe(false);
  });
});
