// The team: members and their roles, invitations (invite, resend, revoke), and the
// permissions matrix. Write controls show only for a role holding manage:team; the server
// decides all the same, and its refusals (the last owner, a missing permission) are shown.
import { del, get, messages, post, put } from "./api.js";
import { clear, errorBox, field, h, main, notice, options, showErrors, table, when } from "./dom.js";

const ROLES = ["owner", "admin", "member"];

export async function render(_data, me) {
  const status = h("div", { id: "team-status" });
  const members = h("div", { id: "members" });
  const invitations = h("div", { id: "invitations" });
  const matrixArea = h("div", { id: "permissions" });

  const matrix = await get("/api/team/permissions");
  const myRole = me ? me.organization.role : "";
  const manages = matrix.ok
    && (matrix.data.roles.find((r) => r.role === myRole)?.scopes || []).includes("manage:team");

  function said(text) { clear(status, notice(text)); }

  async function loadMembers() {
    const r = await get("/api/team/members");
    if (!r.ok) return clear(members, notice(messages(r).join(" "), "bad"));
    clear(members, table(["Name", "E-mail", "Role", "Joined", manages ? "" : null].filter((x) => x !== null),
      r.data.map((m) => {
        const errors = errorBox();
        const role = options(h("select", { class: "role-select", "aria-label": `Role of ${m.email}` }),
          ROLES.map((x) => [x, x]), m.role);
        return h("tr", { dataset: { userId: m.id } },
          h("td", {}, m.name || "–"), h("td", {}, m.email),
          h("td", { class: "role" }, m.role), h("td", {}, when(m.joined)),
          manages ? h("td", {}, h("div", { class: "actions" }, role,
            h("button", { type: "button", class: "save-role", onclick: async () => {
              const changed = await put(`/api/team/members/${m.id}/role`, { role: role.value });
              if (!changed.ok) return showErrors(errors, messages(changed));
              if (me && m.id === me.id) return location.reload();   // what I may do changed
              said(`${changed.data.email} is now ${changed.data.role}.`);
              loadMembers();
            } }, "Change role"),
            h("button", { type: "button", class: "danger remove-member", onclick: async () => {
              const gone = await del(`/api/team/members/${m.id}`);
              if (!gone.ok) return showErrors(errors, messages(gone));
              said(`${m.email} was removed from the team.`);
              loadMembers();
            } }, "Remove")), errors) : null);
      }), { class: "list" }));
  }

  async function loadInvitations() {
    const r = await get("/api/team/invitations");
    if (!r.ok) return clear(invitations, notice(messages(r).join(" "), "bad"));
    clear(invitations, r.data.length ? table(
      ["E-mail", "Role", "Status", "Sent", "Expires", manages ? "" : null].filter((x) => x !== null),
      r.data.map((i) => {
        const errors = errorBox();
        const open = i.status === "pending" || i.status === "expired";
        return h("tr", { dataset: { invitationId: i.id } },
          h("td", {}, i.email), h("td", {}, i.role),
          h("td", { class: "status" }, h("span", { class: `badge ${i.status === "accepted" ? "ok" : ""}` }, i.status)),
          h("td", {}, when(i.sent_at)), h("td", {}, when(i.expires_at)),
          manages ? h("td", {}, open ? h("div", { class: "actions" },
            h("button", { type: "button", class: "resend", onclick: async () => {
              const sent = await post(`/api/team/invitations/${i.id}/resend`);
              if (!sent.ok) return showErrors(errors, messages(sent));
              said(sent.data.email_sent ? `Invitation sent again to ${i.email}.`
                : `Invitation renewed, but the e-mail to ${i.email} could not be sent.`);
              loadInvitations();
            } }, "Resend"),
            h("button", { type: "button", class: "danger revoke", onclick: async () => {
              const gone = await del(`/api/team/invitations/${i.id}`);
              if (!gone.ok) return showErrors(errors, messages(gone));
              said(`Invitation to ${i.email} revoked.`);
              loadInvitations();
            } }, "Revoke")) : null, errors) : null);
      }), { class: "list" }) : h("p", { class: "empty" }, "No invitations."));
  }

  function drawMatrix() {
    if (!matrix.ok) return clear(matrixArea, notice(messages(matrix).join(" "), "bad"));
    const roles = matrix.data.roles.map((r) => r.role);
    clear(matrixArea, table(["Permission", "What it allows", ...roles],
      matrix.data.scopes.map((s) => h("tr", { dataset: { scope: s.scope } },
        h("th", { scope: "row" }, h("code", {}, s.scope)), h("td", {}, s.description),
        roles.map((r) => h("td", { dataset: { role: r } }, s.roles.includes(r) ? "✓" : "–")))),
      { class: "list" }),
    h("ul", {}, matrix.data.roles.map((r) => h("li", {}, h("strong", {}, r.role), `: ${r.description}`))));
  }

  let form = null;
  if (manages) {
    const email = h("input", { type: "email", name: "email", required: true,
      placeholder: "colleague@example.com" });
    const role = options(h("select", { name: "role" }), ROLES.map((x) => [x, x]), "member");
    const errors = errorBox();
    form = h("form", { class: "card inline", id: "invite-form", novalidate: true },
      field("E-mail", email), field("Role", role),
      h("button", { type: "submit" }, "Invite"), errors);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const r = await post("/api/team/invite", { email: email.value, role: role.value });
      if (!r.ok) return showErrors(errors, messages(r));
      showErrors(errors, []);
      email.value = "";
      clear(status, notice(r.data.email_sent ? `Invitation e-mailed to ${r.data.email}.`
        : `Invitation made, but the e-mail to ${r.data.email} could not be sent (is SMTP set up?).`,
      r.data.email_sent ? "ok" : "warn"));
      loadInvitations();
    });
  }

  main(status,
    h("h2", {}, "Members"), members,
    h("h2", {}, "Invitations"), form
      || h("p", { class: "muted", id: "team-read-only" },
        "Only the organisation's owners invite, remove members or change roles."),
    invitations,
    h("h2", {}, "Permissions"), matrixArea);
  drawMatrix();
  await Promise.all([loadMembers(), loadInvitations()]);
}
