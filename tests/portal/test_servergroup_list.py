import pytest

pytestmark = pytest.mark.django_db


def names(response):
    return [group.name for group in response.context["page"].object_list]


def test_list_shows_each_group_with_its_columns(operator_client, listed_backends):
    listed_backends(3)
    response = operator_client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    for expected in ["group-0000", "group-0002", "Ready", "rg-0", "westeurope", "sub-1"]:
        assert expected in html
    assert "Showing 3 of 3 server groups" in html


def test_filter_by_name_keeps_only_matches(operator_client, listed_backends):
    listed_backends(30)
    response = operator_client.get("/", {"q": "0012"})
    assert names(response) == ["group-0012"]


def test_sorting_by_nodes_descending(operator_client, listed_backends):
    listed_backends(8)
    response = operator_client.get("/", {"sort": "nodes", "dir": "desc"})
    counts = [group.node_count for group in response.context["page"].object_list]
    assert counts == sorted(counts, reverse=True)


def test_unknown_sort_key_falls_back_to_name(operator_client, listed_backends):
    listed_backends(5)
    response = operator_client.get("/", {"sort": "__class__", "dir": "sideways"})
    assert names(response) == sorted(names(response))


def test_pages_hold_25_groups_and_link_onwards(operator_client, listed_backends):
    listed_backends(60)
    first = operator_client.get("/")
    last = operator_client.get("/", {"page": "3"})
    assert len(names(first)) == 25
    assert names(last) == [f"group-{i:04d}" for i in range(50, 60)]
    assert "Page 1 of 3" in first.content.decode()
    assert operator_client.get("/", {"page": "banana"}).status_code == 200


def test_htmx_filter_answers_with_the_table_only(operator_client, listed_backends):
    listed_backends(4)
    response = operator_client.get(
        "/", {"q": "0001"}, headers={"HX-Request": "true", "HX-Target": "servergroup-table"}
    )
    html = response.content.decode()
    assert 'id="servergroup-table"' in html
    assert "<header" not in html
    assert "group-0001" in html and "group-0002" not in html


def test_empty_state_says_how_to_add_a_backend(operator_client):
    html = operator_client.get("/").content.decode()
    assert "No backend is configured" in html
    assert "AZURE_SUBSCRIPTION_IDS" in html


def test_empty_state_with_a_backend_says_how_to_create_a_group(operator_client, listed_backends):
    listed_backends(0)
    html = operator_client.get("/").content.decode()
    assert "No server groups yet" in html
    assert "servergroups create" in html


def test_a_filter_with_no_match_says_so_and_how_many_exist(operator_client, listed_backends):
    listed_backends(3)
    html = operator_client.get("/", {"q": "x"}).content.decode()
    assert "No server group matches 'x' (3 in all)." in html
    assert "Showing 0 of 0" not in html
    assert "Clear the filter" in html


def test_a_filter_with_matches_counts_them_against_all(operator_client, listed_backends):
    listed_backends(30)
    html = operator_client.get("/", {"q": "0012"}).content.decode()
    assert "Showing 1 of 1 server group matching '0012' (30 in all)" in html
