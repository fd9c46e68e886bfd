"use strict";
// Autocomplete list filters (clicknback/admin_lists.py): choosing a value reloads the change list
// with that filter set, keeping the other filters and leaving the page number out.
{
    const $ = django.jQuery;

    $(function () {
        $("select[data-filter-parameter]").on("change", function () {
            const params = new URLSearchParams(this.dataset.filterQuery);
            if (this.value) {
                params.set(this.dataset.filterParameter, this.value);
            }
            window.location.search = params.toString();
        });
    });
}
