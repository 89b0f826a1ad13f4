-- GET the first page of the overdue list.
request = function()
    return wrk.format("GET", "/api/v1/actions?overdue=true&limit=50")
end
