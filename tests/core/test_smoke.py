from django.test import Client


def test_login_page_renders(client: Client, db: None) -> None:
    response = client.get("/manage/login/")
    assert response.status_code == 200
    assert b"Log in to Tillbook" in response.content
