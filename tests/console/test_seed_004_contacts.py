"""Seed 004 in the browser: the contact block with its stars (F-21, F-22), contacting the
client by email and the communications trace (F-23), the note pad and files (F-25, F-26)."""

from uuid import uuid4

from playwright.async_api import expect

from tests.console.test_access import new_client


async def test_seed_004_two_emails_default_invalid_in_red_and_an_email_in_the_trace(
    signed_in, dossier_api, smtp_inbox
):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector)
    code = client["client"]["code"]
    first, second = f"first-{uuid4().hex[:6]}@client.example", f"second-{uuid4().hex[:6]}@client.example"
    response = await dossier_api.post(f"/clients/{code}/contacts", json={
        "name": "Service comptable", "observation": "Comptable", "channels": [
            {"type": "email", "value": first, "state": "validated", "is_default": True},
            {"type": "email", "value": second, "state": "validated"}]})
    assert response.status_code == 201, response.text
    page.on("dialog", lambda dialog: dialog.accept())  # the "Yes" of the confirmation window

    await page.goto(f"/clients/{code}")
    first_row = page.locator(f"#contacts tr.channel[data-value='{first}']")
    second_row = page.locator(f"#contacts tr.channel[data-value='{second}']")
    await expect(first_row.locator(".star.full")).to_be_visible()   # validated and default
    await expect(second_row.locator(".star.empty")).to_be_visible()  # validated

    # F-21: make the second the default: the first keeps an empty star.
    await second_row.locator(".act-make-default").click()
    await expect(second_row.locator(".star.full")).to_be_visible()
    await expect(first_row.locator(".star.empty")).to_be_visible()

    # F-22: invalidate the first: hidden, then shown in red when asked.
    await first_row.locator(".act-invalidate").click()
    await expect(first_row).to_have_count(0)
    await page.check("#show-invalid")
    await expect(first_row).to_be_visible()
    await expect(first_row).to_have_class("channel invalid-channel")
    color = await first_row.locator(".channel-value").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(192, 38, 45)"

    # F-23: email the client from the default channel; the trace shows it.
    await second_row.locator(".contact-by summary").click()
    form = second_row.locator(".communication-form")
    await form.locator("input[name=subject]").fill("Votre relevé")
    await form.locator("textarea[name=body]").fill("Bonjour, voici votre relevé.")
    await form.locator(".send-communication").click()
    await expect(page.locator("#contacts-sent")).to_be_visible()
    ours = page.locator("#communication-trace .communication", has_text="Votre relevé")
    await expect(ours).to_have_count(1)
    await expect(ours).to_contain_text(second)
    await smtp_inbox.wait_for(second)
    await page.reload()
    await expect(page.locator("#communication-trace .communication", has_text="Votre relevé")).to_contain_text("Sent")


async def test_seed_004_a_wrong_contact_shows_the_reason_and_keeps_what_was_typed_then_notes_and_files(
    signed_in, dossier_api
):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector)
    code = client["client"]["code"]
    await page.goto(f"/clients/{code}")
    await page.click("#new-contact summary")
    await page.fill("#new-contact-form input[name=name]", "Directeur financier")
    await page.fill("#new-contact-form textarea[name=observation]", "DAF")
    await page.fill("#new-contact-form input[name=channel_value]", "not-an-email")
    await page.click("#create-contact")
    await expect(page.locator("#new-contact-form .field-error")).to_be_visible()
    await expect(page.locator("#new-contact-form input[name=name]")).to_have_value("Directeur financier")
    await expect(page.locator("#new-contact-form input[name=channel_value]")).to_have_value("not-an-email")
    await page.fill("#new-contact-form input[name=channel_value]", "daf@client.example")
    await page.click("#create-contact")
    contact = page.locator("#contacts .contact[data-name='Directeur financier']")
    await expect(contact.locator(".observation")).to_have_text("DAF")
    await expect(contact.locator("tr.channel .star.none")).to_have_count(1)  # pending: no star
    # F-22: edit its observation; validate the channel: an empty star.
    await contact.locator("details.menu summary", has_text="Edit the contact").click()
    await contact.locator(".edit-contact textarea[name=observation]").fill("DAF, décide des paiements")
    await contact.locator(".edit-contact button").click()
    await expect(contact.locator(".observation")).to_have_text("DAF, décide des paiements")
    await contact.locator("tr.channel .act-validate").click()
    await expect(contact.locator("tr.channel .star.empty")).to_have_count(1)

    # F-25: the note pad.
    await page.fill("#note-form textarea[name=text]", "Client rappelé, paiement promis lundi")
    await page.click("#add-note")
    await expect(page.locator("#note-list .note").first).to_contain_text("paiement promis lundi")
    # F-26: a file with a description, downloaded, then deleted.
    await page.set_input_files("#file-form input[type=file]", files=[
        {"name": "relevé.txt", "mimeType": "text/plain", "buffer": "Relevé de compte".encode()}])
    await page.fill("#file-form input[name=description]", "Relevé envoyé le 1er")
    await page.click("#upload-file")
    row = page.locator("#file-list .file").first
    await expect(row).to_contain_text("Relevé envoyé le 1er")
    async with page.expect_download() as download:
        await row.locator(".file-link").click()
    assert (await download.value).suggested_filename == "relevé.txt"
    page.on("dialog", lambda dialog: dialog.accept())
    await row.locator(".delete-file").click()
    await expect(page.locator("#file-list .file")).to_have_count(0)
    # F-41: a file about one item (an invoice's copy) goes to an agency with that item.
    number = client["open_items"][0]["number"]
    await page.set_input_files("#file-form input[type=file]", files=[
        {"name": "copie.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 copie"}])
    await page.select_option("#file-form select[name=item_number]", number)
    await page.click("#upload-file")
    await expect(page.locator("#file-list .file").first.locator(".file-item")).to_have_text(number)


async def test_f23_communication_actions_use_the_default_contact_and_a_refusal_keeps_the_message(
    signed_in, dossier_api
):
    page, person = await signed_in("collector")
    client = await new_client(dossier_api, person.collector)
    code = client["client"]["code"]
    await page.goto(f"/clients/{code}")
    await page.click("#communication-actions summary")
    await page.select_option("#communication-form select[name=channel]", "email")
    await page.fill("#communication-form input[name=subject]", "Votre compte")
    await page.click("#send-communication")  # neither a template nor a body: refused, said, kept
    await expect(page.locator("#communication-form #form-error")).to_contain_text("template")
    await expect(page.locator("#communication-form input[name=subject]")).to_have_value("Votre compte")
    await page.select_option("#communication-form select[name=channel]", "sms")
    await page.fill("#communication-form textarea[name=body]", "Merci de nous rappeler")
    await page.click("#send-communication")  # no phone on this client: kept in the trace, not sent
    await expect(page.locator("#communication-trace .communication", has_text="sms")).to_contain_text(
        "Needs attention", timeout=30_000)
    await page.click("#communication-actions summary")
    await page.select_option("#communication-form select[name=channel]", "call")
    await page.fill("#communication-form input[name=note]", "Appel sortant, messagerie")
    await page.click("#send-communication")
    await expect(page.locator("#contacts-sent")).to_be_visible()
    await expect(page.locator("#communication-trace .communication", has_text="call")).to_have_count(1)
